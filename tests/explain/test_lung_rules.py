"""The anatomy's rules on a side map: here the refiner's base rule (the others are tested through explain.lungs)."""

from __future__ import annotations

import numpy as np

from cxr_miliary.explain.lung_rules import REFINED_BELOW, no_lower


def test_a_refined_field_keeps_what_it_added_beside_the_network_s_but_not_below_it():
    own = np.zeros((128, 128), np.int8)
    own[20:81, 10:41], own[20:81, 60:91] = 1, 2
    refined = own.copy()
    refined[30:71, 41:46] = 1  # medial: the mediastinal side a white lung hid from the network
    refined[81:121, 15:36] = 1  # below the base: gas under the dome
    refined[10:20, 60:91] = 2  # above: an apex the network drew short
    out = no_lower(refined, own)
    margin = int(np.ceil(REFINED_BELOW * 128))
    assert (out[30:71, 41:46] == 1).all() and (out[10:20, 60:91] == 2).all()
    assert (out[81 : 81 + margin, 15:36] == 1).all()  # within the margin of the network's base
    assert not (out[81 + margin :] > 0).any()
    # the rule only takes away, and leaves each side one region
    assert not ((out > 0) & (refined == 0)).any()
    from scipy import ndimage as ndi

    assert all(ndi.label(out == s)[1] == 1 for s in (1, 2))


def test_a_side_the_network_did_not_draw_is_left_as_refined():
    own = np.zeros((64, 64), np.int8)
    own[10:40, 5:25] = 1
    refined = own.copy()
    refined[10:60, 40:60] = 2
    assert (no_lower(refined, own) == refined).all()
