"""Localisation from saved maps: mass in the lungs and the pointing game, against the manifest's masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from cxr_miliary.evaluation.localisation import localisation


def test_a_map_on_the_lesion_scores_and_one_outside_the_lungs_does_not(tmp_path):
    lungs = np.zeros((64, 64), np.uint8)
    lungs[8:56, 8:56] = 255
    lesion = np.zeros((64, 64), np.uint8)
    lesion[20:24, 20:24] = 255
    Image.fromarray(lungs).save(tmp_path / "lung.png")
    Image.fromarray(lesion).save(tmp_path / "lesion.png")
    good, bad = np.zeros((64, 64), np.float32), np.zeros((64, 64), np.float32)
    good[21, 21] = 1.0
    bad[2, 2] = 1.0
    np.save(tmp_path / "good.npy", good.astype(np.float16))
    np.save(tmp_path / "bad.npy", bad.astype(np.float16))
    rows = [
        {"error": "", "cam_path": str(tmp_path / f"{m}.npy"), "lung_mask": "lung.png", "lesion_mask": "lesion.png", "label": 1, "probability": 0.9}
        for m in ("good", "bad")
    ]
    out = localisation(pd.DataFrame(rows[:1]), tmp_path)
    assert out["pointing_game"] == 1.0 and out["cam_mass_in_lungs"] == 1.0 and out["n_positives_with_masks"] == 1
    out = localisation(pd.DataFrame(rows[1:]), tmp_path)
    assert out["pointing_game"] == 0.0 and out["cam_mass_in_lungs"] == 0.0
