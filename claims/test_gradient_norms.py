"""Problem 1: per-layer gradient norms of an MNIST MLP during training (claims G1-G5, P4).

784 -> 128 -> 128 -> 128 -> 10 without biases, PyTorch's default init, SGD lr 0.01, batch 128, 40 epochs,
float32. Thresholds: calibrated on seeds 0-4, confirmed on seeds 5-9 (torch 2.14.1, CPU, one thread).
"""

import math

import pytest
import torch

from claims._analysis import at_least, at_most, below, between, check_all, line_fit

# First epoch (1-based) after which the first layer's norm is expected to have settled.
SETTLED_AFTER_EPOCH = 5
#: PyTorch's default init has Var(w) = 1/(3 fan_in): a ReLU layer scales the forward second moment by
#: fan_in Var(w) / 2 = 1/6 and the backward one likewise, so in an L-layer net every layer's gradient
#: has E||g_l||^2 ~ 6^-(L-1), whatever l: sqrt(1/6) per added layer. He's Var(w) = 2/fan_in gives 1.
PREDICTED_FACTOR = {"pytorch": 1 / math.sqrt(6), "he": 1.0}

BOUNDS = {
    ("G1", "test_accuracy"): at_least(0.97, "the handout's bar; seeds 0-4: 0.9747-0.9766, 5-9: 0.9744-0.9768"),
    ("G1", "train_nll_last_over_first"): at_most(0.1, "seeds 0-4: 0.0211-0.0238, 5-9: 0.0208-0.0236"),
    ("G2", "max_successive_ratio"): below(1.0, "seeds 0-4: 0.727-0.775, 5-9: 0.729-0.767"),
    ("G2b", "last_rms_over_max_other"): at_least(1.0, "seeds 0-4: 1.80-1.93, 5-9: 1.78-1.90"),
    ("G3", "last_final_over_peak"): at_most(0.5, "the handout's 'half'; seeds 0-4: 0.297-0.324, 5-9: 0.302-0.326"),
    ("G3", "first_band_max_over_min"): at_most(1.25, "seeds 0-4: 1.071-1.101, 5-9: 1.066-1.080"),
    # Measured 7-10% below sqrt(1/6) under the default init: finite width and the un-ReLU'd last layer.
    ("G4", "factor_over_prediction", "pytorch"): between(0.85, 1.15, "seeds 0-4: 0.902-0.933, 5-9: 0.899-0.924"),
    ("G4", "factor_over_prediction", "he"): between(0.85, 1.15, "seeds 0-4: 0.919-1.003, 5-9: 0.916-1.045"),
    ("G4", "test_accuracy_epoch3"): at_least(
        0.85, "seeds 0-4 / 5-6: pytorch-3 0.902-0.907 / 0.902, he-3 0.941-0.944 / 0.942, he-10 0.935-0.947 / 0.936-0.949"),
    ("G4", "test_accuracy_epoch2"): at_most(
        0.2, "one class for every input scores 0.089-0.114; pytorch-10 seeds 0-4: 0.066-0.125, 5-6: 0.102-0.124"),
    ("G4", "train_nll_epoch2_over_ln10"): at_least(
        0.99, "uniform predictions give 1; pytorch-10 seeds 0-6: 1.00000 (he-10: 0.10)"),
    # One thread; products summed in float64 by the compiled record (2.8e-8-5.9e-8 with float32 torch.vdot).
    ("P4", "max_identity_violation"): at_most(1e-6, "float32 rounding; seeds 0-4: 2.0e-8-2.5e-8, 5-9: 1.9e-8-2.2e-8"),
    ("P4", "drift_rel_error"): at_most(1e-3, "seeds 0-4: 3.9e-6-1.1e-4, 5-9: 4.8e-5-3.3e-4"),
}


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


def _check(claim, claim_id, e, names, prefix=""):
    for name in names:
        check_all(claim, prefix + name, e[name], BOUNDS[claim_id, name])


@pytest.mark.claim("G1", source="handout")
def test_mlp_reaches_97_percent(claim, mlp_history):
    """After 40 epochs the test accuracy is >= 97% and the epoch-mean train NLL has fallen >= 10x."""
    claim.param(seed=mlp_history.config.seed, epochs=mlp_history.config.epochs)
    _check(claim, "G1", g1_g3_evidence(mlp_history), ["test_accuracy", "train_nll_last_over_first"])


@pytest.mark.claim("G2", source="the problem set's own observation")
def test_gradient_norms_decrease_from_first_layer_to_last(claim, mlp_history):
    """At epoch 40 the per-layer gradient Frobenius norms decrease strictly from the first layer to the last."""
    claim.measure(grad_norms=mlp_history.grad_norms[-1], layers=mlp_history.layer_names)
    _check(claim, "G2", g1_g3_evidence(mlp_history), ["max_successive_ratio"])


@pytest.mark.claim("G2b", source="this harness")
def test_per_entry_the_last_layer_has_the_largest_gradient(claim, mlp_history):
    """G2 is a size effect: per entry (norm / sqrt(entries)) the last layer's gradient is the largest at epoch 40."""
    claim.measure(grad_rms=mlp_history.grad_rms[-1])
    _check(claim, "G2b", g1_g3_evidence(mlp_history), ["last_rms_over_max_other"])


@pytest.mark.claim("G3", source="the problem set's own observation")
def test_last_layer_norm_falls_most_steeply(claim, mlp_history):
    """The last layer's norm falls to <= 1/2 of its peak by epoch 40, while the first layer's stays within 1.25x over epochs 5-40."""
    claim.measure(last_layer_peak_epoch=int(mlp_history.grad_norms[:, -1].argmax()) + 1)
    _check(claim, "G3", g1_g3_evidence(mlp_history), ["last_final_over_peak", "first_band_max_over_min"])


@pytest.mark.claim("G5", source="this harness (robustness of G1-G3)")
def test_findings_hold_on_new_seeds(claim, claim_seed_histories):
    """G1, G2 and G3 hold on each of --claim-seeds new seeds (default 3: base seed + 1..3); min, max and mean reported."""
    evidence = [g1_g3_evidence(h) for h in claim_seed_histories]
    claim.param(seeds=[h.config.seed for h in claim_seed_histories])
    for name in evidence[0]:
        values = [e[name] for e in evidence]
        claim.measure(**{name: {"min": min(values), "max": max(values), "mean": sum(values) / len(values)}})
    for h, e in zip(claim_seed_histories, evidence):
        for claim_id in ("G1", "G2", "G2b", "G3"):
            names = [key[1] for key in BOUNDS if key[0] == claim_id]
            _check(claim, claim_id, e, names, prefix=f"seed{h.config.seed}.")


def g4_factor(probe) -> float:
    """exp of the least-squares slope of log(mean layer gradient norm) against depth."""
    depths = list(probe.norms)
    slope, _ = line_fit(depths, [n.mean().log().item() for n in probe.norms.values()])
    return math.exp(slope)


@pytest.mark.claim("G4", source="Glorot and Bengio 2010 (Sec. 4.2); He et al. 2015 (Sec. 2.2)")
@pytest.mark.parametrize("init", ["pytorch", "he"])
def test_gradient_norm_factor_per_layer_matches_the_init_variance(claim, depth_probe, init):
    """At initialization the mean gradient norm changes per added width-128 layer by the predicted factor: sqrt(1/6) = 0.408 under PyTorch's default init, 1 under He init."""
    factor = g4_factor(depth_probe)
    claim.param(depths=depth_probe.config.depths, predicted_factor=PREDICTED_FACTOR[init])
    claim.measure(factor_per_layer=factor, mean_grad_norm=[n.mean() for n in depth_probe.norms.values()])
    check_all(claim, "factor_over_prediction", factor / PREDICTED_FACTOR[init],
              BOUNDS["G4", "factor_over_prediction", init])


@pytest.mark.claim("G4", source="He et al. 2015 (Sec. 2.2); this harness's 3-epoch runs")
@pytest.mark.parametrize("init, depth, trains",
                         [("pytorch", 3, True), ("pytorch", 10, False), ("he", 3, True), ("he", 10, True)])
def test_trainability_depends_on_depth_and_init(claim, depth_init_history, init, depth, trains):
    """A 10-layer net under the default init sits at chance (NLL ln 10) for two epochs; He init trains at depth 10."""
    h = depth_init_history
    claim.measure(test_accuracy=h.test_accuracy, train_nll=h.train_nll)
    if trains:
        check_all(claim, "test_accuracy_epoch3", h.test_accuracy[2].item(), BOUNDS["G4", "test_accuracy_epoch3"])
    else:
        check_all(claim, "test_accuracy_epoch2", h.test_accuracy[1].item(), BOUNDS["G4", "test_accuracy_epoch2"])
        check_all(claim, "train_nll_epoch2_over_ln10", h.train_nll[1].item() / math.log(10),
                  BOUNDS["G4", "train_nll_epoch2_over_ln10"])


def p4_evidence(h) -> dict:
    """The identity's worst violation, the drift of ||W_(l+1)||^2 - ||W_l||^2 against lr^2 sums, and the C-S bound."""
    b, lr = h.balance, h.config.lr
    differences = b.weight_sq_norms[:, 1:] - b.weight_sq_norms[:, :-1]
    drift = differences[-1] - differences[0]
    predicted = lr**2 * (b.grad_sq_sums[:, 1:] - b.grad_sq_sums[:, :-1]).sum(dim=0)
    explained = b.grad_lower_bound[-1] / h.grad_norms[-1]
    bound_order = b.grad_lower_bound[-1].argsort(descending=True)
    return {"max_identity_violation": b.max_violation.max().item(),
            "drift": drift, "predicted_drift": predicted,
            "drift_rel_error": ((drift - predicted).abs() / predicted.abs()).max().item(),
            "weight_sq_change": b.weight_sq_norms[-1] - b.weight_sq_norms[0],
            "bound_over_norm_epoch40": explained,
            "bound_orders_layers_like_g2": bool((bound_order == torch.arange(len(bound_order))).all())}


@pytest.mark.claim("P4", source="Du, Hu and Lee 2018 (Thm 2.1)")
def test_layers_stay_balanced(claim, mlp_history):
    """<W_l, grad_l L> is equal across layers on every batch (to float32 rounding), and ||W_(l+1)||^2 - ||W_l||^2 drifts over 40 epochs by exactly lr^2 sum_t (||g_(l+1)||^2 - ||g_l||^2), within 0.1%."""
    e = p4_evidence(mlp_history)
    claim.measure(drift=e["drift"], predicted_drift=e["predicted_drift"], weight_sq_change=e["weight_sq_change"],
                  bound_over_norm_epoch40=e["bound_over_norm_epoch40"],
                  bound_orders_layers_like_g2=e["bound_orders_layers_like_g2"])
    _check(claim, "P4", e, ["max_identity_violation", "drift_rel_error"])
