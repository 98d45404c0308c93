"""A lateral phantom: what the frontal-chest check must refuse (no two lung fields side by side)."""

from __future__ import annotations

import numpy as np

from cxr_miliary.phantom.lateral import render_lateral


def test_a_lateral_is_deterministic_and_unlike_a_frontal_film():
    a, b = render_lateral(3, 0, 256), render_lateral(3, 0, 256)
    assert a.shape == (256, 256) and np.array_equal(a, b) and a.min() >= 0 and a.max() <= 1
    left, right = a[:, :128].mean(), a[:, 128:].mean()
    assert abs(left - right) > 0.01  # not mirror-symmetric like a frontal chest
