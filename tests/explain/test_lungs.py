"""The classical lung-field estimate: against phantom truth, and the LungFields hand-over."""

from __future__ import annotations

import numpy as np

from cxr_miliary.explain.lungs import LungFields, estimate_lung_mask, find_lung_fields
from cxr_miliary.phantom import render_phantom


def test_fields_are_small_and_restore_to_the_image():
    ph = render_phantom(31, 9, size=700, pattern="normal")
    fields = find_lung_fields(ph.display)
    assert max(fields.small.shape) <= 256 and fields.shape == (700, 700)
    full = fields.full()
    assert full.shape == (700, 700) and full.dtype == bool and np.array_equal(full, estimate_lung_mask(ph.display))
    assert not LungFields(np.zeros((4, 4), bool), (30, 40)).full().any()


def test_lung_estimate_matches_phantom_truth():
    ious = []
    for index in range(12):
        ph = render_phantom(31, index, 512)
        est = estimate_lung_mask(ph.display)
        ious.append((est & ph.lung_mask).sum() / max((est | ph.lung_mask).sum(), 1))
    assert np.mean(ious) > 0.78 and min(ious) > 0.5, ious
