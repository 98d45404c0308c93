"""``cxr-miliary evaluate``: score a manifest with Grad-CAM and write metrics, plots and the report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import strict_json
from . import plots
from .localisation import localisation
from .metrics import by_label_source, evaluate_scores, keep_positives, subgroups
from .report import write_report

SUBGROUP_COLUMNS = ["view", "sex", "age", "manufacturer", "difficulty", "pattern_truth", "split", "label_method"]


def evaluate(
    predictor: Any,
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: str | None = None,
    images_root: str | os.PathLike[str] | None = None,
    batch_size: int = 16,
    num_workers: int = 2,
    target_sensitivity: float = 0.90,
    n_boot: int = 500,
    progress: bool = True,
    positives: str = "all",
    shortcut_audit: bool = False,
) -> dict[str, Any]:
    """Evaluate ``predictor`` on ``manifest`` (optionally one split) into ``out``.

    ``positives="physician"`` keeps only the positives a physician labelled (the manifest's
    ``label_method``); every negative stays. With a ``label_method`` column the figures for
    all positives and for physician-labelled ones alone are reported side by side either way.
    ``shortcut_audit`` adds :mod:`.audit`'s questions (``audit/`` and a section of the report).

    Writes ``scores.csv``, ``metrics.json`` (with bootstrap CIs, subgroup table and, when
    the manifest has lung/lesion masks, localisation), PNG plots, ``cams/`` and a
    self-contained ``report.html``.

    Returns:
        The metrics dictionary.
    """
    from ..outputs.files import Outputs
    from ..scoring.archive import score_to_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    man = pd.read_csv(manifest, dtype={"path": str})
    if split and "split" in man.columns:
        man = man[man["split"] == split]
    if man.empty:
        raise ValueError(f"{manifest}: no rows to evaluate")
    root = Path(images_root) if images_root else Path(manifest).parent
    man = man.assign(_abs=[str(p if Path(p).is_absolute() else root / p) for p in man["path"]])
    if "pattern" in man.columns:
        man = man.rename(columns={"pattern": "pattern_truth"})
    score_to_file(
        predictor.scorer,
        man["_abs"].tolist(),
        out / "scores.csv",
        batch_size=batch_size,
        num_workers=num_workers,
        outputs=Outputs(cam_dir=out / "cams"),
        progress=progress,
    )
    scores = pd.read_csv(out / "scores.csv", dtype={"error": str, "path": str})
    scores["error"] = scores["error"].fillna("")
    df = man.merge(scores, left_on="_abs", right_on="path", suffixes=("_manifest", ""))
    readable = df[df["error"] == ""]
    if readable.empty:
        codes = df["error"].str.split(":").str[0].value_counts()
        summary = ", ".join(f"{n} {code}" for code, n in codes.items())
        hint = "" if images_root else " (paths are relative to the manifest's folder; pass --images-root if the images live elsewhere)"
        raise ValueError(f"no image in the manifest could be read ({summary}; first: {df['error'].iloc[0]}){hint}")
    df = keep_positives(df, positives)
    metrics = evaluate_scores(df, predictor.threshold, target_sensitivity, n_boot)
    metrics["positives_kept"] = positives
    if "label_method" in df.columns:
        metrics["by_label_source"] = by_label_source(df, predictor.threshold, n_boot)
    sub = subgroups(df, [c for c in SUBGROUP_COLUMNS if c in df.columns], predictor.threshold)
    loc = localisation(df, root) if {"lung_mask", "lesion_mask"} <= set(man.columns) else None
    metrics["subgroups"] = sub.replace({np.nan: None}).to_dict(orient="records")
    if loc:
        metrics["localisation"] = loc
    metrics["model"] = dict(predictor.model_info)
    if "difficulty" in df.columns:
        metrics["auroc_by_tier"] = tier_aurocs(df)
    if "inserted" in df.columns:
        metrics["auroc_by_origin"] = origin_aurocs(df)
    metrics["by_size"] = size_groups(df, root if {"lung_mask", "lesion_mask"} <= set(man.columns) else None)
    ok = df[df["error"] == ""]
    p, y = ok["probability"].astype(float).to_numpy(), ok["label"].astype(int).to_numpy()
    figures = {
        "ROC and precision-recall": plots.roc_pr(p, y, predictor.threshold, out / "roc_pr.png"),
        "Reliability diagram": plots.reliability(p, y, out / "reliability.png"),
        "Score histograms": plots.histograms(p, y, predictor.threshold, out / "histograms.png"),
        "Grad-CAM gallery": plots.gallery(df, out / "gallery.png"),
    }
    if shortcut_audit:
        from .audit import audit

        report = audit(manifest, out / "audit", images_root=images_root)
        metrics["audit"] = {k: v for k, v in report.items() if k != "figure"}
        figures["Shortcut audit"] = Path(report["figure"])
    (out / "metrics.json").write_text(strict_json.dumps(metrics, indent=2) + "\n")
    sub.to_csv(out / "subgroups.csv", index=False)
    write_report(out / "report.html", metrics=metrics, subgroups=sub, figures=figures, card=predictor.card, localisation=loc)
    return metrics


#: Source-resolution bins (longest side in pixels) for manifests that do not record a render size.
SIZE_BINS = ((0, 1024, "<1,024 px"), (1024, 2000, "1,024-1,999 px"), (2000, 3000, "2,000-2,999 px"), (3000, 10**9, ">=3,000 px"))


def size_labels(df: pd.DataFrame) -> tuple[pd.Series, list[str]] | None:
    """Each row's render size (phantoms' ``size``) or source-resolution bin (``image_rows``/``image_columns``), and their order; None without either."""
    if "size" in df.columns and pd.to_numeric(df["size"], errors="coerce").notna().all():
        labels = pd.to_numeric(df["size"]).astype(int).map(lambda v: f"{v:,} px")
        return labels, sorted(labels.unique(), key=lambda g: int(g.split()[0].replace(",", "")))
    if {"image_rows", "image_columns"} <= set(df.columns):
        longest = df[["image_rows", "image_columns"]].apply(pd.to_numeric, errors="coerce").max(axis=1)
        labels = longest.map(lambda v: next((name for lo, hi, name in SIZE_BINS if lo <= v < hi), "unknown"))
        return labels, [name for _, _, name in SIZE_BINS if name in set(labels)]
    return None


def size_groups(df: pd.DataFrame, root: Path | None = None) -> dict[str, dict[str, float | int | None]]:
    """AUROC, the subtle tier's AUROC, the in-distribution rate (and with masks the map's mass in the lungs) per render size or source-resolution bin."""
    from ..metrics import auroc

    ok = df[df["error"] == ""]
    found = size_labels(ok)
    if found is None:
        return {}
    labels, order = found
    out: dict[str, dict[str, float | int | None]] = {}
    for group in order:
        g = ok[labels == group]
        y, p = g["label"].astype(int).to_numpy(), g["probability"].astype(float).to_numpy()
        row: dict[str, float | int | None] = {"images": len(g), "positives": int(y.sum()), "auroc": auroc(p, y) if 0 < y.sum() < len(y) else None}
        if "difficulty" in g.columns:
            subtle = g[(g["label"].astype(int) == 0) | (g["difficulty"] == "subtle")]
            ys = subtle["label"].astype(int).to_numpy()
            row["auroc_subtle"] = auroc(subtle["probability"].astype(float).to_numpy(), ys) if 0 < ys.sum() < len(ys) else None
        if "in_distribution" in g.columns and g["in_distribution"].notna().any():
            row["in_distribution_rate"] = float(g["in_distribution"].astype(str).str.lower().eq("true").mean())
        if root is not None and {"lung_mask", "lesion_mask", "cam_path"} <= set(g.columns):
            row["cam_mass_in_lungs"] = localisation(g, root).get("cam_mass_in_lungs")
        out[str(group)] = row
    return out


def origin_aurocs(df: pd.DataFrame) -> dict[str, float | int]:
    """Native and inserted positives, each against all negatives (insertion must not be the easy half)."""
    from ..metrics import auroc

    ok = df[df["error"] == ""]
    inserted = ok["inserted"].astype(str).str.lower().isin(("true", "1"))
    label = ok["label"].astype(int)
    neg = ok[label == 0]
    out: dict[str, float | int] = {}
    for name, pos in (("native", ok[(label == 1) & ~inserted]), ("inserted", ok[(label == 1) & inserted])):
        out[f"{name}_positives"] = len(pos)
        if len(pos) and len(neg):
            both = pd.concat([pos, neg])
            out[f"auroc_{name}"] = auroc(both["probability"].astype(float).to_numpy(), both["label"].astype(int).to_numpy())
    return out


def tier_aurocs(df: pd.DataFrame) -> dict[str, float]:
    """AUROC of each positive difficulty tier against all negatives (the hard-case check)."""
    from ..metrics import auroc

    ok = df[df["error"] == ""]
    neg = ok[ok["label"].astype(int) == 0]
    out = {}
    for tier, pos in ok[ok["label"].astype(int) == 1].groupby("difficulty"):
        both = pd.concat([pos, neg])
        out[str(tier)] = auroc(both["probability"].astype(float).to_numpy(), both["label"].astype(int).to_numpy())
    return out


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def update_card(bundle: str | os.PathLike[str], metrics: dict[str, Any], data: str) -> None:
    """Record the evaluation in the bundle's card.json and MODEL_CARD.md (the weights are untouched)."""
    from ..models import update_card as write

    a = metrics["metrics"]["auroc"]
    figures = {
        "images": f"{metrics['n']} ({metrics['positives']} positive)",
        "AUROC": f"{a['value']:.4f} (95% CI {a['ci_low']:.4f}-{a['ci_high']:.4f})",
        "AUPRC": f"{metrics['metrics']['auprc']['value']:.4f}",
        "sensitivity / specificity at the bundle threshold": f"{metrics['metrics']['sensitivity']['value']:.3f} / {metrics['metrics']['specificity']['value']:.3f}",
        "ECE / Brier": f"{metrics['metrics']['ece']['value']:.4f} / {metrics['metrics']['brier']['value']:.4f}",
    }
    for tier, v in metrics.get("auroc_by_tier", {}).items():
        figures[f"AUROC, {tier} positives vs all negatives"] = f"{v:.4f}"
    loc = metrics.get("localisation") or {}
    if loc.get("cam_mass_in_lungs") is not None:
        figures["Grad-CAM mass inside the lungs (positives)"] = f"{loc['cam_mass_in_lungs']:.1%}"
    if loc.get("pattern_accuracy_diffuse_positives") is not None:
        figures["distribution pattern right on diffuse positives (called positive)"] = f"{loc['pattern_accuracy_diffuse_positives']:.1%}"
    if loc.get("confounders_flagged_not_diffuse") is not None:
        figures["one-zone / one-lung confounders called positive and flagged not diffuse"] = f"{loc['confounders_flagged_not_diffuse']:.1%}"
    if loc.get("mean_intensity_positives") is not None and loc.get("mean_intensity_confident_negatives") is not None:
        figures["mean map intensity in lungs: confident negatives vs positives"] = (
            f"{loc['mean_intensity_confident_negatives']:.4f} vs {loc['mean_intensity_positives']:.4f}"
        )
    rate = (metrics.get("integrity") or {}).get("in_distribution_rate")
    if rate is not None:
        figures["in-distribution rate"] = f"{rate:.1%}"
    for group, row in (metrics.get("by_size") or {}).items():
        parts = [f"{row['images']} images", f"AUROC {_f(row.get('auroc'))}", f"subtle {_f(row.get('auroc_subtle'))}"]
        if row.get("in_distribution_rate") is not None:
            parts.append(f"in distribution {row['in_distribution_rate']:.1%}")
        if row.get("cam_mass_in_lungs") is not None:
            parts.append(f"map in lungs {row['cam_mass_in_lungs']:.1%}")
        figures[f"at {group}"] = ", ".join(parts)
    for key, value in (metrics.get("auroc_by_origin") or {}).items():
        figures[f"{key.replace('_', ' ')}"] = f"{value:.4f}" if isinstance(value, float) else str(value)
    write(bundle, evaluation={"data": data, "figures": figures})
