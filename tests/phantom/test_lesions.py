"""The pattern's lesions: miliary nodules of the tier's size in millimetres, only inside the lungs."""

from __future__ import annotations

import numpy as np

from cxr_miliary.phantom.lesions import TIERS, nodules, reticulonodular, stamp_nodules


def test_nodules_are_inside_the_region_at_the_tiers_density_and_size():
    region = np.zeros((400, 400), bool)
    region[50:350, 50:350] = True
    rng = np.random.default_rng(0)
    les = nodules(region, 0.5, "florid", rng)
    assert (les.mask & ~region).sum() < 0.01 * les.mask.sum()  # only the edges of nodules centred at the border
    assert les.attenuation[:40].max() == 0 and les.attenuation[:, 360:].max() == 0
    lo, hi = TIERS["florid"]["diameter"]
    assert lo <= les.params["nodule_size_mm"] <= hi
    area_cm2 = region.sum() * 0.25 / 100
    density = les.params["nodule_count"] / area_cm2 * 100  # per 100 cm2, as the tiers say
    assert TIERS["florid"]["density"][0] * 0.9 <= density <= TIERS["florid"]["density"][1] * 1.1
    net = reticulonodular(region, 0.5, "subtle", np.random.default_rng(1))
    assert net.mask.any() and (net.mask & ~region).sum() < 0.01 * net.mask.sum()


def test_a_stamped_nodule_peaks_where_it_is_put():
    att = stamp_nodules((21, 21), np.array([10]), np.array([10]), np.array([3.0]), np.array([0.5], np.float32))
    assert att[10, 10] == att.max() and abs(float(att.max()) - 0.5) < 1e-6 and att[0, 0] == 0
