"""The report's plots: ROC/PR, reliability and histograms written as images."""

from __future__ import annotations

import numpy as np
from PIL import Image

from cxr_miliary.evaluation.plots import histograms, reliability, roc_pr


def test_each_plot_is_an_image_file(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(30), np.zeros(70)]
    p = np.clip(0.6 * y + rng.random(100) * 0.5, 0, 1)
    for path in (roc_pr(p, y, 0.5, tmp_path / "roc.png"), reliability(p, y, tmp_path / "rel.png"), histograms(p, y, 0.5, tmp_path / "h.png")):
        with Image.open(path) as im:
            assert im.size[0] > 100 and im.size[1] > 100
