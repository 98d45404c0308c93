"""The hand outlines of real films: well-formed, one per lung, found by name in pydicom-data."""

from __future__ import annotations

import numpy as np

from cxr_miliary.bench.lungs import outline_masks
from cxr_miliary.bench.real_outlines import OUTLINES, find_film


def test_every_outline_is_two_lungs_side_by_side():
    for name, rec in OUTLINES.items():
        left, right = (np.asarray(rec[k], float) for k in ("image-left", "image-right"))
        assert len(left) >= 12 and len(right) >= 12, name
        assert left[:, 0].max() < right[:, 0].min(), name  # the image-left lung lies left of the image-right one
        shape = (int(max(left[:, 1].max(), right[:, 1].max())) + 10, int(right[:, 0].max()) + 10)
        sides = outline_masks(name, shape)
        assert (sides == 1).sum() > 0.5 * (sides == 2).sum() and (sides == 2).sum() > 0.5 * (sides == 1).sum(), name


def test_the_second_real_film_is_found_by_name_in_any_encoding():
    from real_films import pydicom_data_film

    path = pydicom_data_film("RG1_UNCR.dcm")
    assert find_film("RG1_UNCR.dcm") == str(path)
    assert find_film("RG1_J2KR.dcm").endswith("RG1_J2KR.dcm") and OUTLINES["RG1_J2KI.dcm"] is OUTLINES["RG1_UNCR.dcm"]
    assert find_film("not-outlined.dcm") is None
    from cxr_miliary.bench.lungs import real_spec

    assert real_spec("RG1_UNCR.dcm") == (str(path), "")  # bench lungs --real by name alone
