"""Temperature scaling, operating-point rules and the summary metrics stored in model cards.

No Lightning: training, ``evaluate`` and the card writer share it. torch is imported only
by :func:`fit_temperature` (the one function that optimises), so inference can use the
rest without it. ``sigmoid``, ``sens_spec`` and ``summary_metrics`` live in
:mod:`cxr_miliary.metrics` and are re-exported here (their old home).
"""

from __future__ import annotations

import math

import numpy as np

from .metrics import sens_spec, sigmoid, summary_metrics

__all__ = ["THRESHOLD_RULES", "choose_threshold", "fit_temperature", "sens_spec", "sigmoid", "summary_metrics"]

#: Operating-point rules: "sensitivity" (>= target, the WHO screening target is 0.90),
#: "specificity" (>= target) or "youden" (max sensitivity + specificity - 1).
THRESHOLD_RULES = ("sensitivity", "specificity", "youden")


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> float:
    """Temperature T minimising the NLL of sigmoid(logit / T) on held-out data.

    Args:
        logits: Raw logits (validation split).
        labels: 0/1 labels.
        max_iter: LBFGS iterations.

    Returns:
        T > 0 (1.0 when the data cannot support a fit: one class only or empty).
    """
    import torch

    y = np.asarray(labels, dtype=np.float64)
    if y.size == 0 or y.min() == y.max():
        return 1.0
    z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    t = torch.as_tensor(y)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # optimise log T: keeps T > 0
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z / log_t.exp(), t)
        loss.backward()
        return loss

    opt.step(closure)
    temperature = float(log_t.exp().item())
    return temperature if math.isfinite(temperature) and 0.01 < temperature < 100 else 1.0


def choose_threshold(probs: np.ndarray, labels: np.ndarray, rule: str = "sensitivity", target: float = 0.90) -> dict[str, float | str]:
    """Pick the decision threshold by a declared rule.

    ``sensitivity``: the highest threshold whose sensitivity is >= target (so specificity
    is as high as the target allows); ``specificity``: the lowest threshold whose
    specificity is >= target; ``youden``: the threshold maximising sens + spec - 1.

    Returns:
        ``{"rule", "target", "threshold", "sensitivity", "specificity"}``.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; choose from {', '.join(THRESHOLD_RULES)}")
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(bool)
    if not y.any() or y.all():
        return {"rule": rule, "target": target, "threshold": 0.5, "sensitivity": float("nan"), "specificity": float("nan")}
    candidates = np.unique(np.concatenate([p, [0.0, 1.0 + 1e-9]]))
    sens = np.array([(p[y] >= c).mean() for c in candidates])
    spec = np.array([(p[~y] < c).mean() for c in candidates])
    if rule == "sensitivity":
        ok = np.flatnonzero(sens >= target)
        k = ok[-1] if ok.size else 0
    elif rule == "specificity":
        ok = np.flatnonzero(spec >= target)
        k = ok[0] if ok.size else len(candidates) - 1
    else:
        k = int(np.argmax(sens + spec - 1))
    return {"rule": rule, "target": target, "threshold": float(candidates[k]), "sensitivity": float(sens[k]), "specificity": float(spec[k])}
