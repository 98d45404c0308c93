"""The rendered anatomy: two lungs by side, hila inside, and Style's variations where they belong."""

from __future__ import annotations

import numpy as np

from cxr_miliary.phantom.anatomy import NORMAL, Style, render_anatomy


def _rng(k: int = 0) -> np.random.Generator:
    return np.random.default_rng(k)


def test_two_lungs_by_side_and_darker_than_the_body():
    a = render_anatomy(256, _rng())
    assert set(np.unique(a.lung_side)) == {0, 1, 2}
    cols = [np.flatnonzero((a.lung_side == s).any(axis=0)).mean() for s in (1, 2)]
    assert cols[0] < cols[1]  # the image-left lung (patient's right) on the left
    assert a.attenuation[a.lung_mask].mean() < a.attenuation[~a.lung_mask].mean()


def test_style_variations_move_what_they_say_and_normal_changes_nothing():
    base = render_anatomy(256, _rng(1))
    same = render_anatomy(256, _rng(1), style=NORMAL)
    assert np.array_equal(base.attenuation, same.attenuation)
    lifted = render_anatomy(256, _rng(1), style=Style(dome_lift=(0.12, 0.0)))

    def dome(a, side):  # the lung's lowest row in its middle column: the top of its dome
        cols = np.flatnonzero((a.lung_side == side).any(axis=0))
        return np.flatnonzero(a.lung_side[:, (cols[0] + cols[-1]) // 2] == side)[-1]

    assert dome(lifted, 1) < dome(base, 1) - 10  # the eventrated dome sits higher
    assert abs(dome(lifted, 2) - dome(base, 2)) <= 3
    big = render_anatomy(256, _rng(1), style=Style(habitus=1.25))
    assert big.attenuation[~base.lung_mask].mean() > base.attenuation[~base.lung_mask].mean()
