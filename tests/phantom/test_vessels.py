"""Pulmonary vessels: branching from the hila, inside the lungs, tapering outwards."""

from __future__ import annotations

import numpy as np

from cxr_miliary.phantom.anatomy import render_anatomy
from cxr_miliary.phantom.vessels import render_vessels


def test_vessels_lie_in_the_lungs_and_are_denser_near_the_hila():
    anat = render_anatomy(256, np.random.default_rng(3))
    v = render_vessels(256, anat.hila, anat.lung_mask, np.random.default_rng(3), 1.0)
    assert v.shape == (256, 256) and v.max() > 0
    assert v[~anat.lung_mask].sum() < 0.2 * v.sum()
    yy, xx = np.mgrid[:256, :256]
    near = np.zeros((256, 256), bool)
    for r, c in anat.hila:
        near |= (yy - r) ** 2 + (xx - c) ** 2 < 30**2
    far = anat.lung_mask & ~near
    assert v[near & anat.lung_mask].mean() > v[far].mean()
