"""Pictures with no lung: the lung model's negatives are repeatable, film-like in range, and varied."""

from __future__ import annotations

import numpy as np

from cxr_miliary.phantom.negatives import render_negative


def test_negatives_are_repeatable_pictures_in_the_films_range_and_differ_from_each_other():
    a, b = render_negative(7, 3, 256), render_negative(7, 3, 256)
    assert a.shape == (256, 256) and a.dtype == np.float32 and np.array_equal(a, b)
    assert a.min() >= 0.0 and a.max() <= 1.0
    pictures = [render_negative(7, i, 128) for i in range(12)]
    assert all(float(p.std()) > 0.03 for p in pictures)  # something is drawn on every one
    diffs = [float(np.abs(pictures[i] - pictures[i + 1]).mean()) for i in range(11)]
    assert min(diffs) > 0.01
