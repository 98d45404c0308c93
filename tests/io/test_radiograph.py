"""A decoded radiograph and its metadata, as JSON."""

from __future__ import annotations

import json

import numpy as np

from cxr_miliary.io import ImageMeta, Radiograph


def test_meta_is_plain_json_and_stats_describe_the_pixels():
    meta = ImageMeta("dicom", 4, 5, pixel_spacing_mm=(0.2, 0.2), window=(2048.0, 4096.0))
    d = json.loads(json.dumps(meta.to_dict()))
    assert d["pixel_spacing_mm"] == [0.2, 0.2] and d["window"] == [2048.0, 4096.0] and d["synthetic"] is False
    rad = Radiograph(np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5), meta)
    s = rad.pixel_stats()
    assert rad.shape == (4, 5) and s["min"] == 0.0 and s["max"] == 1.0 and abs(s["mean"] - 0.5) < 1e-6 and rad.path == "<array>"
