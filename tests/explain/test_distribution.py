"""Lung fields and distribution patterns against phantom ground truth."""

from __future__ import annotations

import numpy as np

from cxr_miliary.explain import distribution
from cxr_miliary.phantom import render_phantom


def _truth_map(pattern, index, difficulty="florid"):
    ph = render_phantom(41, index, 384, pattern=pattern, difficulty=difficulty)
    cam = ph.lesion_mask.astype(np.float32)
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(cam, 3), ph.lung_mask


def test_pattern_from_ground_truth_maps():
    diffuse = [distribution(*_truth_map(p, i), positive=True)["pattern"] for p in ("miliary", "reticulonodular") for i in range(5)]
    assert sum(d == "diffuse-bilateral" for d in diffuse) >= 9, diffuse
    for i in range(4):
        assert distribution(*_truth_map("unilateral-nodules", i), positive=True)["pattern"] == "unilateral"
        assert distribution(*_truth_map("clustered-zone", i), positive=True)["pattern"] != "diffuse-bilateral"


def test_negative_or_empty_is_none():
    cam, lungs = _truth_map("miliary", 0)
    assert distribution(cam, lungs, positive=False)["pattern"] == "none"
    assert distribution(np.zeros_like(cam), lungs, positive=True)["pattern"] == "none"
