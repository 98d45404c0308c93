"""One explanation pipeline: ``predict`` and ``score`` give the same probability, pattern and zones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_miliary import Predictor
from cxr_miliary.explain import explain, lung_fields
from cxr_miliary.lung_zones import ZONE_NAMES
from cxr_miliary.phantom import generate_phantoms


@pytest.fixture(scope="module")
def mixed_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("parity")
    manifest = generate_phantoms(8, out, seed=606, size=320, formats=("dcm",), patterns=("miliary", "normal", "unilateral-nodules", "clustered-zone"))
    return [str(out / p) for p in pd.read_csv(manifest)["path"]]


def test_predict_and_score_agree(tiny_bundle, mixed_set, tmp_path):
    p = Predictor.load(tiny_bundle, precision="fp32")
    p.threshold = 0.0  # every image positive, so every image has a pattern to compare
    rows = p.score(mixed_set, batch_size=3, num_workers=2, cam=True)
    assert len(rows) == len(mixed_set) and (rows["error"] == "").all()
    for path, row in zip(mixed_set, rows.itertuples(index=False), strict=True):
        pred = p.predict(path)
        assert row.probability == pytest.approx(pred.probability, abs=1e-6)
        assert row.pattern == pred.distribution["pattern"] != "none"
        for i, zone in enumerate(ZONE_NAMES):
            assert row[rows.columns.get_loc(zone)] == pytest.approx(pred.distribution["zones"][zone], abs=1e-3), (path, zone, i)
        assert row.right == pytest.approx(pred.distribution["right"], abs=1e-3)


def test_explain_scales_by_probability_and_restricts_to_lungs(mixed_set):
    from cxr_miliary.io import load_image

    rad = load_image(mixed_set[0])
    lungs = lung_fields(rad.pixels)
    raw = np.ones((10, 10), np.float32)
    a = explain(raw, lungs, input_size=320, probability=0.8, positive=True)
    b = explain(raw, lungs, input_size=320, probability=0.2, positive=False)
    assert a.cam.shape == rad.shape and a.lung_mask.shape == rad.shape and a.lung_mask.any()
    assert a.cam.max() == pytest.approx(0.8, abs=1e-6) and b.cam.max() == pytest.approx(0.2, abs=1e-6)
    assert b.distribution["pattern"] == "none" and not a.warnings
    outside = ~a.lung_mask
    assert a.cam[outside].mean() < 0.5 * a.cam[a.lung_mask].mean()


def test_no_lung_fields_says_so():
    flat = np.full((200, 200), 0.5, np.float32)
    exp = explain(np.ones((8, 8), np.float32), lung_fields(flat), input_size=128, probability=0.9, positive=True)
    assert not exp.lung_mask.any() and exp.warnings and "not restricted" in exp.warnings[0]
