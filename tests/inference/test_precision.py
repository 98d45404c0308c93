"""The fast numeric path must give the fp32 answers (issue: fast inference without changing them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_miliary import Predictor, load_image
from cxr_miliary.bench.inference import faithfulness
from cxr_miliary.phantom import generate_phantoms


def test_bf16_channels_last_is_faithful(tiny_bundle, tmp_path):
    man = generate_phantoms(12, tmp_path, seed=515, size=256)
    rows = pd.read_csv(man)
    paths = [str(tmp_path / p) for p in rows["path"]]
    fp32, fast = Predictor.load(tiny_bundle, precision="fp32"), Predictor.load(tiny_bundle, precision="bf16")
    f = faithfulness(fp32, fast, paths, rows["label"].to_numpy())
    assert f["max_abs_prob_diff"] <= 0.01
    assert f["decision_flips"] <= 0.01
    assert f["cam_correlation_min"] >= 0.95  # Grad-CAM runs in fp32 on both paths
    if "auroc_fp32" in f:
        # on 12 images one swapped pair moves AUROC by ~0.03, so the 0.005 bar is checked
        # by `bench` on a real set; here the untrained tiny model's probabilities lie within
        # bf16's resolution of each other, so at most one pair may swap
        pos = int(rows["label"].sum())
        assert f["auroc_fp32"] == pytest.approx(f["auroc_fast"], abs=1.0 / (pos * (len(rows) - pos)) + 1e-9)

    pred = fast.predict(load_image(paths[0]))
    assert np.isfinite(pred.probability) and pred.cam.dtype == np.float32
