"""Property tests: display values are in [0, 1], finite, and monotonic in the stored value."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from cxr_miliary.io.grayscale import to_display


def _ds(bits, photometric, center, width, function, slope, intercept):
    ds = Dataset()
    ds.BitsStored = bits
    ds.BitsAllocated = 16
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = photometric
    if width is not None:
        ds.WindowCenter = center
        ds.WindowWidth = width
        ds.VOILUTFunction = function
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
    return ds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bits=st.integers(8, 16),
    photometric=st.sampled_from(["MONOCHROME1", "MONOCHROME2"]),
    center=st.floats(-5000, 70000),
    width=st.one_of(st.none(), st.floats(1, 70000)),
    function=st.sampled_from(["LINEAR", "LINEAR_EXACT", "SIGMOID"]),
    rescale=st.one_of(st.none(), st.tuples(st.floats(0.01, 10), st.floats(-2000, 2000))),
    seed=st.integers(0, 2**31),
)
def test_display_in_unit_range_finite_and_monotonic(bits, photometric, center, width, function, rescale, seed):
    rng = np.random.default_rng(seed)
    stored = np.sort(rng.integers(0, 2**bits, 257)).astype(np.uint16).reshape(1, -1)
    slope, intercept = rescale if rescale else (None, None)
    pixels, info = to_display(stored, _ds(bits, photometric, center, width, function, slope, intercept))
    assert pixels.dtype == np.float32
    assert np.isfinite(pixels).all()
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    diffs = np.diff(pixels[0].astype(np.float64))
    if photometric == "MONOCHROME2":
        assert (diffs >= -1e-6).all()  # brighter stored value never displays darker
    else:
        assert (diffs <= 1e-6).all()
    assert info.inverted == (photometric == "MONOCHROME1")
