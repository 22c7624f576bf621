"""Small helpers every subpackage shares: atomic writes, argument checks, torch threads, cache paths, seeds."""

from ._checks import check_finite as check_finite
from ._checks import describe as describe
from ._checks import integer as integer
from ._checks import positive_float as positive_float
from ._checks import positive_int as positive_int
from ._checks import sequence as sequence
from ._files import atomic_writer as atomic_writer
from ._paths import cache_root as cache_root
from ._seeds import CALIBRATION_SEEDS as CALIBRATION_SEEDS
from ._seeds import HELD_OUT_START as HELD_OUT_START
from ._seeds import seed_set as seed_set
from ._seeds import seeded_generator as seeded_generator
from ._threads import torch_threads as torch_threads
