"""Problem 1's evidence: what the G, N and M claims measure in an MLP's training history (core.MLPHistory)."""

from __future__ import annotations

import math

from ._fits import line_fit

# First epoch (1-based) after which the first layer's norm is expected to have settled.
SETTLED_AFTER_EPOCH = 5
#: PyTorch's default init has Var(w) = 1/(3 fan_in): a ReLU layer scales the forward second moment by
#: fan_in Var(w) / 2 = 1/6 and the backward one likewise, so in an L-layer net every layer's gradient
#: has E||g_l||^2 ~ 6^-(L-1), whatever l: sqrt(1/6) per added layer. He's Var(w) = 2/fan_in gives 1.
PREDICTED_FACTOR = {"pytorch": 1 / math.sqrt(6), "he": 1.0}
#: the notebook's printed gradient norms (claim N1): layer 1 over epochs 3-5, layer 4 at epochs 36 and 40
NOTEBOOK_LAYER1_EPOCHS3_5 = (0.894, 0.899)
NOTEBOOK_LAYER4 = {36: 0.271, 40: 0.248}
#: the window of M1's fit: past the first fast phase, to the end
M1_EPOCHS = (10, 40)


def g1_g3_evidence(h) -> dict:
    """Accuracy, NLL, the layer ordering at the last epoch and the shape of the first and last curves."""
    norms, rms = h.grad_norms[-1], h.grad_rms[-1]
    last, first = h.grad_norms[:, -1], h.grad_norms[SETTLED_AFTER_EPOCH - 1 :, 0]
    return {"test_accuracy": h.test_accuracy[-1].item(),
            "train_nll_last_over_first": (h.train_nll[-1] / h.train_nll[0]).item(),
            "max_successive_ratio": (norms[1:] / norms[:-1]).max().item(),
            "last_rms_over_max_other": (rms[-1] / rms[:-1].max()).item(),
            "last_final_over_peak": (last[-1] / last.max()).item(),
            "first_band_max_over_min": (first.max() / first.min()).item()}


def g2b_g3_evidence(h) -> dict:
    """Per-entry RMS of the two equal-shape hidden layers, and every layer's final norm over its peak."""
    rms, norms = h.grad_rms[-1], h.grad_norms
    fall = norms[-1] / norms.max(dim=0).values
    return {"rms_l2_over_l3": (rms[1] / rms[2]).item(), "final_over_peak": fall,
            "last_over_steepest_other": (fall[-1] / fall[:-1].min()).item()}


def g4_factor(probe) -> float:
    """exp of the least-squares slope of log(mean layer gradient norm) against depth."""
    depths = list(probe.norms)
    slope, _ = line_fit(depths, [n.mean().log().item() for n in probe.norms.values()])
    return math.exp(slope)


def n1_evidence(h) -> dict:
    """The harness's layer-1 norm over epochs 3-5 and layer-4 norm at epochs 36 and 40 over the notebook's."""
    norms, (low, high) = h.grad_norms, NOTEBOOK_LAYER1_EPOCHS3_5
    layer1 = norms[2:5, 0] / ((low + high) / 2)
    out = {"layer1_epochs3_5": norms[2:5, 0], "layer4_epochs36_40": norms[35:40, -1],
           "layer1_epochs3_5_over_notebook": layer1}
    out.update({f"layer4_epoch{e}_over_notebook": (norms[e - 1, -1] / v).item() for e, v in NOTEBOOK_LAYER4.items()})
    return out


def m1_evidence(h) -> dict:
    """Per layer, the log-log slope of the gradient norm against the train NLL over M1_EPOCHS; weight growth."""
    first, last = M1_EPOCHS
    nll = h.train_nll[first - 1 : last].log()
    fits = [line_fit(nll, h.grad_norms[first - 1 : last, layer].log()) for layer in range(h.grad_norms.shape[1])]
    exponents = [slope for slope, _ in fits]
    growth = h.balance.weight_sq_norms[-1] - h.balance.weight_sq_norms[0]
    initial = h.balance.weight_sq_norms[0]
    return {"loss_exponents": exponents, "last_layer_loss_exponent": exponents[-1],
            "last_layer_loss_fit_r2": fits[-1][1],
            "exponent_step_down_min": min(b - a for a, b in zip(exponents, exponents[1:])),
            "weight_growth": growth, "weight_growth_max_over_min": (growth.max() / growth.min()).item(),
            "rival_growth_max_over_min": (initial.max() / initial.min()).item()}
