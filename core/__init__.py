"""Models, data and solvers behind the claims.

The subpackages own one subject each: `core.mlp` (Problem 1: MNIST and the MLP), `core.sensing` (Problem 2:
matrix sensing and its solvers), `core.experiments` (configs, `run`, the catalogue, the result cache). The names
below are the public API a user of the harness needs; each subpackage re-exports the rest of its own.
"""

from ._util import CALIBRATION_SEEDS as CALIBRATION_SEEDS
from ._util import HELD_OUT_START as HELD_OUT_START
from ._util import seed_set as seed_set
from .experiments import DepthProbeConfig as DepthProbeConfig
from .experiments import DepthProbeResult as DepthProbeResult
from .experiments import Experiment as Experiment
from .experiments import RecoveryConfig as RecoveryConfig
from .experiments import RecoveryResult as RecoveryResult
from .experiments import ResultCache as ResultCache
from .experiments import SensingConfig as SensingConfig
from .experiments import SensingResult as SensingResult
from .experiments import cached_run as cached_run
from .experiments import claim_experiments as claim_experiments
from .experiments import g5_seed as g5_seed
from .experiments import machine as machine
from .experiments import resolve_device as resolve_device
from .experiments import run as run
from .mlp import MLPConfig as MLPConfig
from .mlp import MLPDivergenceError as MLPDivergenceError
from .mlp import MLPHistory as MLPHistory
from .mlp import MNISTUnavailable as MNISTUnavailable
from .mlp import load_mnist as load_mnist
from .mlp import train_mlp as train_mlp
from .sensing import SensingDivergenceError as SensingDivergenceError
from .sensing import alpha_sweep as alpha_sweep
from .sensing import escape_step as escape_step
from .sensing import gradient_descent as gradient_descent
from .sensing import make_sensing_problem as make_sensing_problem
from .sensing import min_nuclear_norm_interpolant as min_nuclear_norm_interpolant
from .sensing import psd_projected_descent as psd_projected_descent
from .sensing import sensing_thresholds as sensing_thresholds
