"""Air-space disease drawn into outlined real films: only in the lungs, as white as the soft tissue, with no edge of its own."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from cxr_miliary.phantom.airspace_insertion import OPACITIES, film_lungs, opacify, soft_tissue_fill


@pytest.fixture(scope="module")
def film():
    """A clear phantom film and its outline as a side map (it stands in for a real film with a hand outline)."""
    from cxr_miliary.phantom import render_phantom

    ph = render_phantom(31, 0, 320, pattern="normal")
    return ph.display.astype(np.float32), ph.lung_side.astype(np.int8)


@pytest.mark.parametrize("condition", [c for c in OPACITIES if c != "devices"])
def test_each_air_space_condition_whitens_the_lungs_and_nothing_far_from_them(film, condition):
    pixels, side = film
    out = opacify(pixels, side, condition, np.random.default_rng(3))
    far = ~ndi.binary_dilation(side > 0, np.ones((3, 3), bool), iterations=round(0.03 * pixels.shape[0]))
    assert np.array_equal(out.pixels[far], np.clip(pixels[far], 0, 1))  # chest wall, mediastinum, abdomen untouched
    lungs = side > 0
    assert out.pixels[lungs].mean() > pixels[lungs].mean() + 0.01  # whiter where the air went
    assert out.params["condition"] == condition and 0 < out.params["mean_share"] <= 1.15
    again = opacify(pixels, side, condition, np.random.default_rng(3))
    assert np.array_equal(again.pixels, out.pixels)  # the same draw from the same stream


def test_lines_and_wires_are_thin_white_strokes_that_displace_no_air(film):
    pixels, side = film
    out = opacify(pixels, side, "devices", np.random.default_rng(4))
    changed = np.abs(out.pixels - pixels) > 0.02
    assert out.params["devices"] and not out.share.any()
    assert 0.002 < changed.mean() < 0.08  # strokes, not a veil
    over_lung = changed & (side > 0)
    assert over_lung.any() and out.pixels[over_lung].mean() > pixels[over_lung].mean() + 0.1  # white over the dark lung
    assert (out.pixels[changed] >= 0.99).mean() > 0.05  # metal (here sternotomy wires) saturates
    assert np.array_equal(opacify(pixels, side, "devices", np.random.default_rng(4)).pixels, out.pixels)


def test_a_white_out_leaves_one_lung_as_dense_as_the_soft_tissue_with_no_edge_at_the_wall(film):
    """The silhouette sign: the white hemithorax meets the chest wall at the wall's own grey level; the other lung stays aerated."""
    pixels, side = film
    out = opacify(pixels, side, "white-out", np.random.default_rng(0))
    white = max((1, 2), key=lambda s: out.share[side == s].mean())
    other = 3 - white
    assert out.share[side == white].mean() > 0.8 and out.share[side == other].max() < 0.05
    lung = side == white
    inside = lung & ~ndi.binary_erosion(lung, iterations=4)  # a band just inside the outline
    outside = ndi.binary_dilation(lung, iterations=8) & ~ndi.binary_dilation(lung, iterations=4) & (side == 0)  # just outside
    before = pixels[outside].mean() - pixels[inside].mean()
    after = out.pixels[outside].mean() - out.pixels[inside].mean()
    assert before > 0.05 and abs(after) < 0.35 * before, (before, after)  # the lung's edge is gone
    assert np.allclose(out.pixels[side == other], pixels[side == other], atol=0.02)


def test_the_fill_is_the_films_surroundings_painted_in(film):
    pixels, side = film
    fill = soft_tissue_fill(pixels, side > 0)
    assert fill.shape == pixels.shape
    lungs = side > 0
    assert fill[lungs].mean() > pixels[lungs].mean() + 0.05  # soft tissue is whiter than aerated lung
    ring = ndi.binary_dilation(lungs, iterations=30) & ~ndi.binary_dilation(lungs, iterations=10)
    assert abs(fill[lungs].mean() - pixels[ring].mean()) < 0.15


def test_film_lungs_places_hila_on_the_medial_edges_and_refuses_one_lung(film):
    _, side = film
    lungs = film_lungs(side)
    (r1, c1), (r2, c2) = lungs.hila
    assert c1 < c2 and side[int(r1), int(c1)] == 1 and side[int(r2), int(c2)] == 2
    assert not (side[int(r1), int(c1) + 1 :] == 1).any() and not (side[int(r2), : int(c2)] == 2).any()  # the medial edge of its row
    assert lungs.air is not None and lungs.air[side > 0].min() > 0 and lungs.air[ndi.binary_dilation(side > 0, iterations=40) == 0].max() == 0
    with pytest.raises(ValueError, match="both lungs"):
        film_lungs(np.where(side == 2, 0, side))
    with pytest.raises(ValueError, match="condition"):
        opacify(film[0], side, "masses", np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        opacify(film[0][:-1], side, "haze", np.random.default_rng(0))
