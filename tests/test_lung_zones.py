"""The six lung zones: thirds of each lung's own height, patient's sides."""

from __future__ import annotations

import numpy as np

from cxr_miliary.lung_zones import ZONE_NAMES, sides_from_mask, zone_map


def test_zone_map_thirds_and_sides():
    side = np.zeros((30, 20), np.int8)
    side[0:30, 2:8] = 1  # image-left lung = patient's right
    side[3:27, 12:18] = 2
    z = zone_map(side)
    assert (z[side == 0] == -1).all()
    assert z[0, 5] == 0 and z[15, 5] == 1 and z[29, 5] == 2  # right upper/middle/lower
    assert z[3, 15] == 3 and z[15, 15] == 4 and z[26, 15] == 5
    assert ZONE_NAMES[z[26, 15]] == "left-lower"


def test_sides_split_at_the_mediastinum():
    mask = np.zeros((20, 40), bool)
    mask[2:18, 3:15] = True
    mask[2:18, 22:37] = True
    side = sides_from_mask(mask)
    assert set(np.unique(side[:, :15][mask[:, :15]])) == {1} and set(np.unique(side[:, 22:][mask[:, 22:]])) == {2}
    assert not sides_from_mask(np.zeros((5, 5), bool)).any()
