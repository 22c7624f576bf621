"""Problem 2: matrix sensing with a packed Gaussian operator, gradient descent on U U^T (one batch for a whole
alpha sweep, or for several problems of one shape), singular values, the predictions derived before a run, the
recovery thresholds m_psd and m_nuc, the convex (SDP) baseline, PSD-projected GD on X, and the float64 floors of
its distances and losses."""

from ._batched import alpha_sweep_problems as alpha_sweep_problems
from ._batched import gradient_descent_problems as gradient_descent_problems
from ._convex import NuclearNormSolution as NuclearNormSolution
from ._convex import min_nuclear_norm_interpolant as min_nuclear_norm_interpolant
from ._descent import AlphaSweepResult as AlphaSweepResult
from ._descent import SensingDivergenceError as SensingDivergenceError
from ._descent import SensingTrace as SensingTrace
from ._descent import alpha_sweep as alpha_sweep
from ._descent import escape_step as escape_step
from ._descent import first_step as first_step
from ._descent import gradient_descent as gradient_descent
from ._descent import step_size as step_size
from ._floors import EPS64 as EPS64
from ._floors import FLOOR_MARGIN as FLOOR_MARGIN
from ._floors import distance_floor as distance_floor
from ._floors import loss_floor as loss_floor
from ._floors import loss_ratio_floor as loss_ratio_floor
from ._predictions import initial_growth_spectrum as initial_growth_spectrum
from ._predictions import local_contraction_rate as local_contraction_rate
from ._predictions import local_hessian_eigenvalues as local_hessian_eigenvalues
from ._problem import PackedSensingOperator as PackedSensingOperator
from ._problem import SensingProblem as SensingProblem
from ._problem import make_sensing_problem as make_sensing_problem
from ._problem import sensing_problem_from_tensors as sensing_problem_from_tensors
from ._projected import ProjectedDescentTrace as ProjectedDescentTrace
from ._projected import project_psd as project_psd
from ._projected import psd_projected_descent as psd_projected_descent
from ._thresholds import SensingThresholds as SensingThresholds
from ._thresholds import sensing_thresholds as sensing_thresholds
from .kernels import BACKEND_ENV as BACKEND_ENV
from .kernels import resolve_backend as resolve_backend
