"""Phantom content: truth masks, patterns, distribution of the nodules."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_miliary.lung_zones import ZONE_NAMES, zone_map
from cxr_miliary.phantom import ALL_PATTERNS, render_phantom

SIZE = 256


@pytest.mark.parametrize("pattern", ALL_PATTERNS)
def test_every_pattern_renders_with_truth(pattern):
    ph = render_phantom(5, 1, SIZE, pattern=pattern, difficulty="florid")
    assert ph.display.shape == (SIZE, SIZE) and ph.display.dtype == np.float32
    assert ph.display.min() >= 0.0 and ph.display.max() <= 1.0
    assert ph.stored.max() <= 2**ph.bits - 1
    lung_frac = ph.lung_mask.mean()
    assert 0.15 < lung_frac < 0.55, lung_frac
    assert ph.record["label"] == int(pattern in ("miliary", "reticulonodular"))
    if pattern in ("miliary", "reticulonodular", "masses", "clustered-zone", "unilateral-nodules", "consolidation", "effusion"):
        assert ph.lesion_mask.any()
    if pattern == "normal":
        assert not ph.lesion_mask.any()


def test_miliary_is_diffuse_uniform_and_bilateral():
    ph = render_phantom(2, 3, 512, pattern="miliary", difficulty="moderate")
    assert ph.record["n_zones"] == 6
    assert (ph.lesion_mask & ~ph.lung_mask).sum() == 0
    zones = zone_map(np.where(ph.lung_mask, (np.arange(512)[None, :] >= 256) + 1, 0).astype(np.int8))
    # density per zone within a factor ~1.6 of the mean (uniform random placement)
    dens = [ph.lesion_mask[zones == z].mean() for z in range(6)]
    assert max(dens) / min(dens) < 1.6, dens
    assert 1.0 <= ph.record["nodule_size_mm"] <= 3.0 and ph.record["nodule_count"] > 200


def test_clustered_and_unilateral_confounders_are_not_diffuse():
    ph = render_phantom(2, 4, 512, pattern="clustered-zone", difficulty="florid")
    assert ph.record["label"] == 0 and ph.record["n_zones"] <= 2
    ph = render_phantom(2, 5, 512, pattern="unilateral-nodules", difficulty="florid")
    zones = ph.record["zones"].split(",")
    assert len({z.split("-")[0] for z in zones}) == 1


def test_subtle_is_fainter_than_florid():
    florid = render_phantom(9, 1, 512, pattern="miliary", difficulty="florid").record
    subtle = render_phantom(9, 1, 512, pattern="miliary", difficulty="subtle").record
    assert subtle["contrast"] < florid["contrast"]
    assert subtle["nodule_count"] < florid["nodule_count"]


def test_physical_nodule_size_follows_pixel_spacing():
    a = render_phantom(4, 2, 256, pattern="miliary", difficulty="florid", pixel_spacing_mm=0.35)
    b = render_phantom(4, 2, 256, pattern="miliary", difficulty="florid", pixel_spacing_mm=0.70)
    # a nodule of the same physical size covers about 4x fewer pixels at twice the spacing
    per_a = a.lesion_mask.sum() / a.record["nodule_count"]
    per_b = b.lesion_mask.sum() / b.record["nodule_count"]
    assert per_a / per_b > 2.0


def test_zone_names_are_patient_sided():
    side = np.zeros((90, 20), dtype=np.int8)
    side[:, :8] = 1  # image left = patient's right
    side[:, 12:] = 2
    zones = zone_map(side)
    assert ZONE_NAMES[zones[0, 0]] == "right-upper" and ZONE_NAMES[zones[89, 19]] == "left-lower"
    assert zones[0, 10] == -1


def test_unknown_pattern_rejected():
    with pytest.raises(ValueError, match="unknown pattern"):
        render_phantom(0, 0, SIZE, pattern="banana")
