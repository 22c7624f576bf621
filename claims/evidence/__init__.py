"""Evidence: what each claim measures, as functions of experiment results, kept apart from the thresholds.

The claim modules hold only BOUNDS and the tests; these functions compute the numbers the tests check, the
numeric baselines store (claims/_baseline_tables.py) and the tests in tests/unit/test_evidence.py check on
small synthetic inputs.
"""

from core.sensing import first_step as first_step

from ._fits import contraction_per_step as contraction_per_step
from ._fits import escape_steps as escape_steps
from ._fits import escape_targets as escape_targets
from ._fits import line_fit as line_fit
from ._fits import loglog_slope as loglog_slope
from ._fits import steps_per_decade as steps_per_decade
from ._fits import time_slope as time_slope
from ._fits import top_eigenvalues as top_eigenvalues
from ._mlp import M1_EPOCHS as M1_EPOCHS
from ._mlp import NOTEBOOK_LAYER1_EPOCHS3_5 as NOTEBOOK_LAYER1_EPOCHS3_5
from ._mlp import NOTEBOOK_LAYER4 as NOTEBOOK_LAYER4
from ._mlp import PREDICTED_FACTOR as PREDICTED_FACTOR
from ._mlp import SETTLED_AFTER_EPOCH as SETTLED_AFTER_EPOCH
from ._mlp import g1_g3_evidence as g1_g3_evidence
from ._mlp import g2b_g3_evidence as g2b_g3_evidence
from ._mlp import g4_factor as g4_factor
from ._mlp import m1_evidence as m1_evidence
from ._mlp import n1_evidence as n1_evidence
from ._predictions import P5_M_PER_DR as P5_M_PER_DR
from ._predictions import SPECTRAL_PHASE_END as SPECTRAL_PHASE_END
from ._predictions import loss_ratio_floor_of as loss_ratio_floor_of
from ._predictions import p1_evidence as p1_evidence
from ._predictions import p2_evidence as p2_evidence
from ._predictions import p3_evidence as p3_evidence
from ._predictions import p5_evidence as p5_evidence
from ._predictions import p6_evidence as p6_evidence
from ._predictions import threshold_run as threshold_run
from ._sensing import EARLY_STEP as EARLY_STEP
from ._sensing import S6_LARGEST_SMALL_ALPHA as S6_LARGEST_SMALL_ALPHA
from ._sensing import S6_MIN_GAP as S6_MIN_GAP
from ._sensing import SMALL_ALPHAS as SMALL_ALPHAS
from ._sensing import s1_evidence as s1_evidence
from ._sensing import s2_evidence as s2_evidence
from ._sensing import s3_evidence as s3_evidence
from ._sensing import s4_evidence as s4_evidence
from ._sensing import s5_evidence as s5_evidence
from ._sensing import s6_evidence as s6_evidence
