"""The float64 rounding floors of the sensing quantities: below them a value is rounding noise, not signal.

When gradient descent on U U^T reaches X* exactly (the R = r run), what is left of ||U U^T - X*||_F and of the
loss is rounding, and its level depends on how the machine's kernels associate their sums (another CPU's
vector width, another BLAS). Such values are compared and drawn "at the floor": two values below the floor
are equal, and a figure clips its curve at the floor instead of plotting the noise under it.

The error model. An entry of U U^T carries a rounding error of about eps |X*_ij|, so the distance's floor is
of order eps ||X*||_F; the converged exact runs measured (an Intel Xeon with AVX-512 and an AMD EPYC under
several emulated CPUs) sat at 0.3-2.3 eps ||X*||_F, 28-200x under the floor below. A residual <A_i, X> - y_i
sums d^2 products of size |A_i,jk X_jk|, so its worst-case rounding is of order eps ||A_i||_F ||X*||_F =
eps d ||X*||_F for standard Gaussian A_i, and the loss (the mean of the squared residuals) gets the floor
(FLOOR_MARGIN eps d ||X*||_F)^2. That bound is loose: the measured loss noise sits about 1e6 under it, so the
clipped loss column hides some converging steps whose distance, still above its own floor, shows them.
"""

from __future__ import annotations

#: float64 machine epsilon, 2^-52
EPS64 = 2.0**-52
#: how far above the model's rounding level a floor is drawn, so that no machine's noise reaches it
FLOOR_MARGIN = 64.0


def distance_floor(x_star_fro: float) -> float:
    """The floor of ||U U^T - X*||_F in float64: FLOOR_MARGIN eps ||X*||_F."""
    return FLOOR_MARGIN * EPS64 * float(x_star_fro)


def loss_floor(d: int, x_star_fro: float) -> float:
    """The floor of the sensing loss (the mean of the squared residuals): (FLOOR_MARGIN eps d ||X*||_F)^2."""
    return (FLOOR_MARGIN * EPS64 * d * float(x_star_fro)) ** 2


def loss_ratio_floor(d: int, x_star_fro: float, initial_loss: float) -> float:
    """The floor of loss_T / loss_0: loss_floor over the initial loss."""
    return loss_floor(d, x_star_fro) / float(initial_loss)
