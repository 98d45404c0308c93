"""Insertion into a film: inside the lung fields only, nodules of the tier's size in millimetres, dimmer over dense tissue."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from cxr_miliary.phantom import render_phantom
from cxr_miliary.phantom.insertion import ASSUMED_FIELD_MM, insert_pattern, spacing_for
from cxr_miliary.phantom.lesions import TIERS


@pytest.mark.parametrize("tier", ["subtle", "moderate", "florid"])
def test_every_changed_pixel_is_inside_the_lungs_and_nodules_have_the_tiers_size(tier):
    ph = render_phantom(71, 0, size=1024, pattern="normal")
    out = insert_pattern(ph.display, ph.lung_mask, np.random.default_rng(3), pattern="miliary", tier=tier, spacing_mm=0.35)
    changed = np.abs(out.pixels - ph.display) > 1e-7
    assert changed.any() and not (changed & ~ph.lung_mask).any()
    lo, hi = TIERS[tier]["diameter"]
    assert lo <= out.params["nodule_size_mm"] <= hi and out.params["spacing_source"] == "file"
    # the nodules' own size on the film: the area of an isolated nodule's mask in mm², as a circle's diameter
    labels, n = ndi.label(out.lesion_mask)
    areas = ndi.sum(np.ones_like(labels), labels, index=np.arange(1, n + 1)) * 0.35**2
    d = 2 * np.sqrt(np.median(areas) / np.pi)
    assert 0.5 * lo <= d <= 1.6 * hi, (tier, d)


def test_same_generator_same_film_and_dimmer_over_dense_tissue():
    ph = render_phantom(72, 1, size=768, pattern="normal")
    a = insert_pattern(ph.display, ph.lung_mask, np.random.default_rng(5), tier="florid")
    b = insert_pattern(ph.display, ph.lung_mask, np.random.default_rng(5), tier="florid")
    np.testing.assert_array_equal(a.pixels, b.pixels)
    flat = np.full((400, 400), 0.35, np.float32)
    lungs = np.zeros_like(flat, bool)
    lungs[50:350, 50:350] = True
    dark = insert_pattern(flat, lungs, np.random.default_rng(1), tier="florid", spacing_mm=0.4).pixels - flat
    bright = insert_pattern(flat + 0.5, lungs, np.random.default_rng(1), tier="florid", spacing_mm=0.4).pixels - (flat + 0.5)
    assert bright.max() < 0.8 * dark.max()  # the same nodules, dimmer where the film is dense


def test_a_film_without_spacing_is_drawn_at_a_chest_films_field():
    assert spacing_for((2000, 1600), None) == (ASSUMED_FIELD_MM / 2000, "assumed-field")
    assert spacing_for((2000, 1600), 0.15) == (0.15, "file")
