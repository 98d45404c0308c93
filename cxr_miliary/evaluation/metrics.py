"""Evaluation metrics with 95 % bootstrap confidence intervals, and subgroup tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..calibration import choose_threshold
from ..metrics import auprc, auroc, brier, ece, sens_spec, summary_metrics


def _point(p: np.ndarray, y: np.ndarray, thr: float) -> dict[str, float]:
    m = summary_metrics(p, y, thr)
    return {k: m.get(k, float("nan")) for k in ("auroc", "auprc", "sensitivity", "specificity", "brier", "ece")}


def with_ci(probs: np.ndarray, labels: np.ndarray, threshold: float, n_boot: int = 500, seed: int = 0) -> dict[str, dict[str, float]]:
    """Each metric as ``{"value", "ci_low", "ci_high"}`` (percentile bootstrap, 95 %)."""
    p, y = np.asarray(probs, float), np.asarray(labels, int)
    point = _point(p, y, threshold)
    rng = np.random.default_rng(seed)
    boot: dict[str, list[float]] = {k: [] for k in point}
    n = len(y)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        pb, yb = p[idx], y[idx]
        if yb.min() == yb.max():
            continue
        boot["auroc"].append(auroc(pb, yb))
        s, sp = sens_spec(pb, yb, threshold)
        boot["sensitivity"].append(s)
        boot["specificity"].append(sp)
        boot["brier"].append(brier(pb, yb))
        boot["ece"].append(ece(pb, yb))
        boot["auprc"].append(auprc(pb, yb))
    out = {}
    for k, v in point.items():
        arr = np.array([b for b in boot[k] if np.isfinite(b)])
        lo, hi = np.percentile(arr, [2.5, 97.5]) if arr.size else (float("nan"), float("nan"))
        out[k] = {"value": float(v), "ci_low": float(lo), "ci_high": float(hi)}
    return out


def evaluate_scores(df: pd.DataFrame, threshold: float, target_sensitivity: float = 0.90, n_boot: int = 500) -> dict[str, Any]:
    """metrics.json content from a table with ``probability`` and ``label`` (errors excluded)."""
    ok = df[df["error"].fillna("") == ""]
    p, y = ok["probability"].astype(float).to_numpy(), ok["label"].astype(int).to_numpy()
    site = choose_threshold(p, y, "sensitivity", target_sensitivity)
    return {
        "integrity": integrity_rates(df),
        "n": int(len(ok)),
        "positives": int(y.sum()),
        "errors": int(len(df) - len(ok)),
        "threshold": threshold,
        "metrics": with_ci(p, y, threshold, n_boot),
        "threshold_for_target_sensitivity": {
            "target": target_sensitivity,
            "threshold": site["threshold"],
            "sensitivity": site["sensitivity"],
            "specificity": site["specificity"],
        },
    }


def _rate(values: pd.Series) -> float | None:
    v = values.dropna()
    return float(v.astype(bool).mean()) if len(v) else None


def integrity_rates(df: pd.DataFrame) -> dict[str, Any]:
    """How many images were frontal chest films, in distribution, reliable; how many were refused as not-chest."""
    ok = df[df["error"].fillna("") == ""]
    errors = df["error"].fillna("")
    return {
        "in_distribution_rate": _rate(ok["in_distribution"]) if "in_distribution" in ok else None,
        "reliable_rate": _rate(ok["reliable"]) if "reliable" in ok else None,
        "rejected_not_chest": int(errors.str.startswith("not-chest").sum()),
    }


def age_band(age: Any) -> str:
    """Decade bands for subgroup analysis."""
    try:
        a = float(age)
    except (TypeError, ValueError):
        return "unknown"
    if not np.isfinite(a):
        return "unknown"
    lo = int(a // 20) * 20
    return f"{lo}-{lo + 19}"


def subgroups(df: pd.DataFrame, columns: list[str], threshold: float) -> pd.DataFrame:
    """n, positives, AUROC, sensitivity and specificity per value of each column."""
    ok = df[df["error"].fillna("") == ""].copy()
    if "age" in ok.columns:
        ok["age_band"] = ok["age"].map(age_band)
        columns = [c if c != "age" else "age_band" for c in columns]
    rows = []
    for col in columns:
        if col not in ok.columns:
            continue
        for value, g in ok.groupby(ok[col].fillna("unknown").astype(str)):
            p, y = g["probability"].astype(float).to_numpy(), g["label"].astype(int).to_numpy()
            s, sp = sens_spec(p, y, threshold)
            ind = _rate(g["in_distribution"]) if "in_distribution" in g else None
            rows.append(
                {
                    "column": col,
                    "value": value,
                    "n": len(g),
                    "positives": int(y.sum()),
                    "auroc": auroc(p, y),
                    "sensitivity": s,
                    "specificity": sp,
                    "in_distribution_rate": ind,
                }
            )
    return pd.DataFrame(rows, columns=["column", "value", "n", "positives", "auroc", "sensitivity", "specificity", "in_distribution_rate"])


#: How a physician's label is named in a manifest's ``label_method`` (PadChest's ``MethodLabel``: Physician, RNN_model).
PHYSICIAN = "physician"
#: ``evaluate --positives``: every positive, or the physician-labelled ones alone.
POSITIVE_SOURCES = ("all", PHYSICIAN)


def label_source(df: pd.DataFrame) -> pd.Series:
    """Each row's label source, normalised: ``physician``, ``rnn_model``, ... (``unknown`` where the manifest says nothing)."""
    if "label_method" not in df.columns:
        return pd.Series("unknown", index=df.index)
    return df["label_method"].fillna("").astype(str).str.strip().str.lower().replace("", "unknown")


def keep_positives(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """``df`` with only the positives of ``source`` (``all`` keeps every row; negatives always stay).

    Raises:
        ValueError: An unknown source, or no positive of it.
    """
    if source not in POSITIVE_SOURCES:
        raise ValueError(f"positives must be one of {', '.join(POSITIVE_SOURCES)}")
    if source == "all":
        return df
    kept = df[(df["label"].astype(int) == 0) | (label_source(df) == source)]
    if not (kept["label"].astype(int) == 1).any():
        raise ValueError(f"no {source}-labelled positives (a 'label_method' column with '{source}' values is needed)")
    return kept


def by_label_source(df: pd.DataFrame, threshold: float, n_boot: int = 500) -> dict[str, Any]:
    """Metrics with CIs for all positives and for physician-labelled positives alone (every negative in both).

    Of PadChest's 211 miliary rows, 44 were labelled by physicians and 167 by a network
    reading the reports: an AUROC on all of them partly measures agreement with that network.
    """
    ok = df[df["error"].fillna("") == ""]
    out: dict[str, Any] = {}
    for source in POSITIVE_SOURCES:
        try:
            part = keep_positives(ok, source)
        except ValueError:
            continue
        p, y = part["probability"].astype(float).to_numpy(), part["label"].astype(int).to_numpy()
        out[source] = {"n": int(len(part)), "positives": int(y.sum()), "metrics": with_ci(p, y, threshold, n_boot)}
    return out
