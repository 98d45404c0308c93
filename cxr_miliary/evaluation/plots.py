"""Evaluation figures with matplotlib (PNG): ROC, PR, reliability, histograms, CAM gallery."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image


def _curves(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(-p)
    ys = y[order]
    tp = np.concatenate([[0], np.cumsum(ys)])
    fp = np.concatenate([[0], np.cumsum(1 - ys)])
    tpr, fpr = tp / max(ys.sum(), 1), fp / max((1 - ys).sum(), 1)
    precision = tp[1:] / np.arange(1, len(ys) + 1)
    return fpr, tpr, tpr[1:], precision


def roc_pr(p: np.ndarray, y: np.ndarray, threshold: float, out: Path) -> Path:
    """ROC and precision-recall curves with the operating point marked."""
    fpr, tpr, rec, prec = _curves(p, y)
    pred = p >= threshold
    sens = pred[y == 1].mean() if (y == 1).any() else np.nan
    spec = (~pred[y == 0]).mean() if (y == 0).any() else np.nan
    ppv = (y[pred] == 1).mean() if pred.any() else np.nan
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.5))
    ax[0].plot(fpr, tpr, lw=2)
    ax[0].plot([0, 1], [0, 1], ls="--", c="grey")
    ax[0].scatter([1 - spec], [sens], c="red", zorder=3, label=f"threshold {threshold:.3f}")
    ax[0].set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC")
    ax[0].legend(loc="lower right")
    ax[1].plot(rec, prec, lw=2)
    ax[1].scatter([sens], [ppv], c="red", zorder=3)
    ax[1].set(xlabel="recall (sensitivity)", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def reliability(p: np.ndarray, y: np.ndarray, out: Path, bins: int = 10) -> Path:
    """Reliability diagram: observed positive rate per predicted-probability bin."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        sel = idx == b
        if sel.any():
            xs.append(p[sel].mean())
            ys.append(y[sel].mean())
            ns.append(sel.sum())
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", label="perfect calibration")
    ax.plot(xs, ys, marker="o", lw=2, label="model")
    for x, yy, n in zip(xs, ys, ns, strict=False):
        ax.annotate(str(n), (x, yy), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set(xlabel="predicted probability", ylabel="observed fraction positive", title="Reliability", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def histograms(p: np.ndarray, y: np.ndarray, threshold: float, out: Path) -> Path:
    """Score distributions of positives and negatives."""
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 26)
    ax.hist(p[y == 0], bins=bins, alpha=0.6, label="label 0")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, label="label 1")
    ax.axvline(threshold, c="red", ls="--", label="threshold")
    ax.set(xlabel="probability", ylabel="images", title="Scores by label")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def gallery(df: pd.DataFrame, out: Path, per_group: int = 4) -> Path:
    """Overlays of true positives, false positives and false negatives (a row each)."""
    ok = df[(df["error"].fillna("") == "") & df["overlay_path"].notna()]
    pos, lab = ok["positive"].astype(bool), ok["label"].astype(int) == 1
    groups = {
        "true positives": ok[pos & lab].sort_values("probability", ascending=False),
        "false positives": ok[pos & ~lab].sort_values("probability", ascending=False),
        "false negatives": ok[~pos & lab].sort_values("probability"),
    }
    fig, axes = plt.subplots(3, per_group, figsize=(3 * per_group, 9.6))
    for row, (name, g) in enumerate(groups.items()):
        for col in range(per_group):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(g):
                r = g.iloc[col]
                with Image.open(r["overlay_path"]) as img:
                    ax.imshow(np.asarray(img))
                ax.set_title(f"p={float(r['probability']):.2f} {r.get('pattern_truth', '')}", fontsize=8)
            elif col == 0:
                ax.text(0.5, 0.5, "none", ha="center", va="center")
        axes[row, 0].text(-0.05, 0.5, name, rotation=90, ha="right", va="center", transform=axes[row, 0].transAxes, fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
