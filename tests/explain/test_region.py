"""The lung region: the box around both fields, none when the fields cannot bound a crop, and what it keeps."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_miliary.explain.lungs import LungFields, find_lung_fields
from cxr_miliary.explain.region import MARGIN, kept_share, lung_box, mm_per_input_pixel
from cxr_miliary.phantom import render_phantom


def _fields(sides: np.ndarray, shape: tuple[int, int]) -> LungFields:
    return LungFields(sides > 0, shape, "learned", sides.astype(np.int8), 1.0)


def test_the_box_bounds_both_fields_in_film_pixels_with_its_margin():
    sides = np.zeros((100, 80), np.int8)  # the working copy of a 1,000 x 800 film
    sides[20:80, 10:35] = 1
    sides[20:80, 45:70] = 2
    x0, y0, x1, y1 = lung_box(_fields(sides, (1000, 800)), margin=0.1)
    # fields span x 100-700, y 200-800 on the film: 600 each way, 60 px of margin
    assert (x0, y0, x1, y1) == (40, 140, 760, 860)
    assert lung_box(_fields(sides, (1000, 800)), margin=0.0) == (100, 200, 700, 800)
    wide = lung_box(_fields(sides, (1000, 800)), margin=0.5)
    assert wide == (0, 0, 800, 1000)  # clipped to the film


@pytest.mark.parametrize(
    "case",
    ["empty", "one side", "a corner"],
)
def test_fields_that_cannot_bound_a_crop_give_no_box(case):
    sides = np.zeros((100, 80), np.int8)
    if case == "one side":
        sides[20:80, 10:35] = 1
    elif case == "a corner":
        sides[5:20, 5:15], sides[5:20, 16:25] = 1, 2  # under MIN_SPAN either way
    assert lung_box(_fields(sides, (1000, 800))) is None


def test_kept_share_and_millimetres_per_input_pixel():
    truth = np.zeros((100, 100), bool)
    truth[10:90, 10:90] = True
    assert kept_share((0, 0, 100, 50), truth) == pytest.approx(0.5)
    assert kept_share(None, truth) == 1.0  # no box: the whole film
    assert mm_per_input_pixel(None, (3000, 2500), 512) == pytest.approx(430 / 512)
    assert mm_per_input_pixel((0, 0, 1500, 1200), (3000, 2500), 512) == pytest.approx(215 / 512)


@pytest.mark.parametrize("condition", ["normal", "effusion"])
def test_on_phantoms_the_box_keeps_the_true_lung(condition):
    ph = render_phantom(7301, 3, 512, pattern="normal", condition=condition)
    box = lung_box(find_lung_fields(ph.display), MARGIN)
    assert box is not None
    assert kept_share(box, ph.lung_mask) >= 0.98
    x0, y0, x1, y1 = box
    assert (x1 - x0) * (y1 - y0) < 0.9 * ph.display.size  # and it is a crop, not the film
