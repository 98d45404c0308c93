"""``cxr-miliary evaluate``: score a manifest with Grad-CAM and write metrics, plots and the report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import plots
from .localisation import localisation
from .metrics import evaluate_scores, subgroups
from .report import write_report

SUBGROUP_COLUMNS = ["view", "sex", "age", "manufacturer", "difficulty", "pattern_truth", "split"]


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
) -> dict[str, Any]:
    """Evaluate ``predictor`` on ``manifest`` (optionally one split) into ``out``.

    Writes ``scores.csv``, ``metrics.json`` (with bootstrap CIs, subgroup table and, when
    the manifest has lung/lesion masks, localisation), PNG plots, ``cams/`` and a
    self-contained ``report.html``.

    Returns:
        The metrics dictionary.
    """
    from ..inference.scoring import score_to_file

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
    score_to_file(predictor, man["_abs"].tolist(), out / "scores.csv", batch_size=batch_size, num_workers=num_workers,
                  cam_dir=out / "cams", progress=progress)
    scores = pd.read_csv(out / "scores.csv", dtype={"error": str, "path": str})
    scores["error"] = scores["error"].fillna("")
    df = man.merge(scores, left_on="_abs", right_on="path", suffixes=("_manifest", ""))
    metrics = evaluate_scores(df, predictor.threshold, target_sensitivity, n_boot)
    sub = subgroups(df, [c for c in SUBGROUP_COLUMNS if c in df.columns], predictor.threshold)
    loc = localisation(df, root) if {"lung_mask", "lesion_mask"} <= set(man.columns) else None
    metrics["subgroups"] = sub.replace({np.nan: None}).to_dict(orient="records")
    if loc:
        metrics["localisation"] = loc
    metrics["model"] = dict(predictor.model_info)
    ok = df[df["error"] == ""]
    p, y = ok["probability"].astype(float).to_numpy(), ok["label"].astype(int).to_numpy()
    figures = {
        "ROC and precision-recall": plots.roc_pr(p, y, predictor.threshold, out / "roc_pr.png"),
        "Reliability diagram": plots.reliability(p, y, out / "reliability.png"),
        "Score histograms": plots.histograms(p, y, predictor.threshold, out / "histograms.png"),
        "Grad-CAM gallery": plots.gallery(df, out / "gallery.png"),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=_jsonable) + "\n")
    sub.to_csv(out / "subgroups.csv", index=False)
    write_report(out / "report.html", metrics=metrics, subgroups=sub, figures=figures, card=predictor.card, localisation=loc)
    return metrics


def _jsonable(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)
