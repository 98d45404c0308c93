"""Numeric metrics on probabilities: one implementation each, numpy only.

Used by calibration (card metrics), ``evaluate`` (with bootstrap CIs, thousands of calls:
rank-based AUROC costs microseconds), ``bench`` and the fast-path check. Training logs
the same quantities through torchmetrics' stateful metrics instead, because those
synchronise across DDP processes; this module needs neither torch nor torchmetrics, so
inference and evaluation do not pay their import.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Numerically stable logistic function (float64)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def auroc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve by ranks (ties averaged); NaN with one class only."""
    from scipy.stats import rankdata

    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auprc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise, ties grouped)."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels).astype(bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    tp, fp = np.cumsum(ys), np.cumsum(~ys)
    # evaluate only where the score changes, so tied scores count as one threshold
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width bins (L1)."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if p.size == 0:
        return float("nan")
    idx = np.clip(np.digitize(p, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, weights=p, minlength=bins) - np.bincount(idx, weights=y, minlength=bins))
    return float(gap.sum() / count.sum())


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


def nll(probs: np.ndarray, labels: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of the probabilities."""
    p, y = np.clip(np.asarray(probs, dtype=np.float64), eps, 1 - eps), np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if p.size else float("nan")


def sens_spec(probs: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity of ``probs >= threshold``."""
    p, y = np.asarray(probs), np.asarray(labels).astype(bool)
    pred = p >= threshold
    sens = float(pred[y].mean()) if y.any() else float("nan")
    spec = float((~pred[~y]).mean()) if (~y).any() else float("nan")
    return sens, spec


def summary_metrics(probs: np.ndarray, labels: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    """AUROC, AUPRC, ECE, Brier score, NLL (and sens/spec at ``threshold`` when given)."""
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    out: dict[str, float] = {"n": int(len(y)), "positives": int(y.sum())}
    if 0 < int(y.sum()) < len(y):
        out["auroc"], out["auprc"] = auroc(p, y), auprc(p, y)
    out.update(ece=ece(p, y), brier=brier(p, y), nll=nll(p, y))
    if threshold is not None:
        out["sensitivity"], out["specificity"] = sens_spec(p, y, threshold)
    return out


def agreement(reference: np.ndarray, other: np.ndarray, threshold: float) -> dict[str, float]:
    """How far ``other`` probabilities are from ``reference``: the faithfulness figures.

    Returns:
        ``{"max_abs_prob_diff", "flips"}`` (flips = decisions at ``threshold`` that differ).
    """
    a, b = np.asarray(reference, dtype=np.float64), np.asarray(other, dtype=np.float64)
    return {"max_abs_prob_diff": float(np.abs(a - b).max()) if a.size else 0.0, "flips": int(np.sum((a >= threshold) != (b >= threshold)))}


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty: they agree)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
