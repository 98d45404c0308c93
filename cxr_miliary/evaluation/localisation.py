"""Localisation metrics against ground-truth masks (phantoms): CAM mass in lungs, pointing game, pattern."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ..explain.mapfile import load_map

DIFFUSE = ("miliary", "reticulonodular")


def _mask(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    if not path.is_file():
        return None
    with Image.open(path) as img:
        m = np.asarray(img) > 0
    return m if m.shape == shape else None


def localisation(df: pd.DataFrame, root: Path) -> dict[str, Any]:
    """Per-image localisation from saved maps and the manifest's masks, summarised.

    ``cam_mass_in_lungs``: share of the map's mass inside the true lungs (positives).
    ``pointing_game``: the map's maximum falls on the lesion (dilated a little) (positives).
    ``pattern_accuracy``: diffuse positives called ``diffuse-bilateral``; and the
    one-zone / one-lung confounders not called diffuse.
    ``mean_intensity``: mean map value in the lungs, confident negatives vs positives.
    """
    from scipy.ndimage import binary_dilation

    mass, hits, neg_int, pos_int = [], [], [], []
    for _, r in df[(df["error"].fillna("") == "") & df["cam_path"].notna()].iterrows():
        cam = load_map(r["cam_path"])  # at the image's own size, whichever map format was written
        lungs = _mask(root / str(r.get("lung_mask", "")), cam.shape) if "lung_mask" in r else None
        if lungs is None:
            continue
        inten = float(cam[lungs].mean()) if lungs.any() else 0.0
        if int(r["label"]) == 1:
            pos_int.append(inten)
            total = float(cam.sum())
            if total > 0:
                mass.append(float(cam[lungs].sum()) / total)
            lesion = _mask(root / str(r.get("lesion_mask", "")), cam.shape)
            if lesion is not None and lesion.any() and cam.max() > 0:
                peak = np.unravel_index(int(np.argmax(cam)), cam.shape)
                hits.append(bool(binary_dilation(lesion, iterations=max(2, cam.shape[0] // 100))[peak]))
        elif float(r["probability"]) < 0.1:
            neg_int.append(inten)
    out: dict[str, Any] = {
        "cam_mass_in_lungs": float(np.mean(mass)) if mass else None,
        "pointing_game": float(np.mean(hits)) if hits else None,
        "mean_intensity_positives": float(np.mean(pos_int)) if pos_int else None,
        "mean_intensity_confident_negatives": float(np.mean(neg_int)) if neg_int else None,
        "n_positives_with_masks": len(mass),
    }
    if "pattern" in df.columns and "pattern_truth" in df.columns:
        ok = df[df["error"].fillna("") == ""]
        diffuse = ok[ok["pattern_truth"].isin(DIFFUSE) & (ok["label"].astype(int) == 1) & ok["positive"].astype(bool)]
        out["pattern_accuracy_diffuse_positives"] = float((diffuse["pattern"] == "diffuse-bilateral").mean()) if len(diffuse) else None
        conf = ok[ok["pattern_truth"].isin(("clustered-zone", "unilateral-nodules")) & ok["positive"].astype(bool)]
        out["confounders_flagged_not_diffuse"] = float((conf["pattern"] != "diffuse-bilateral").mean()) if len(conf) else None
    return out
