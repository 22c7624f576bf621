"""Experiments as values: the Experiment protocol, the configs, `run` and `cached_run`, the catalogue of the
claims' experiments, the on-disk result cache, experiments computed side by side, progress bars, and the
machine provenance that keys the cache."""

from ._cache import RESULTS_ENV as RESULTS_ENV
from ._cache import CacheInfo as CacheInfo
from ._cache import CacheWarning as CacheWarning
from ._cache import ResultCache as ResultCache
from ._cache import default_results_root as default_results_root
from ._cache import source_fingerprint as source_fingerprint
from ._catalogue import NUCLEAR_COMPARISON as NUCLEAR_COMPARISON
from ._catalogue import PAPER_SWEEPS as PAPER_SWEEPS
from ._catalogue import THRESHOLD_M_PER_DR as THRESHOLD_M_PER_DR
from ._catalogue import THRESHOLD_SWEEP as THRESHOLD_SWEEP
from ._catalogue import claim_experiments as claim_experiments
from ._catalogue import g5_seed as g5_seed
from ._concurrent import compute_concurrently as compute_concurrently
from ._configs import PAPER_ALPHAS as PAPER_ALPHAS
from ._configs import DepthProbeConfig as DepthProbeConfig
from ._configs import DepthProbeResult as DepthProbeResult
from ._configs import RecoveryConfig as RecoveryConfig
from ._configs import RecoveryResult as RecoveryResult
from ._configs import SensingConfig as SensingConfig
from ._configs import SensingResult as SensingResult
from ._progress import progress_bar as progress_bar
from ._protocol import Experiment as Experiment
from ._provenance import CODE_PATH_ENV as CODE_PATH_ENV
from ._provenance import THREAD_ENV as THREAD_ENV
from ._provenance import bits_fingerprint as bits_fingerprint
from ._provenance import isa_level as isa_level
from ._provenance import kernel_path as kernel_path
from ._provenance import machine as machine
from ._run import cached_run as cached_run
from ._run import experiment_spec as experiment_spec
from ._run import resolve_device as resolve_device
from ._run import run as run
