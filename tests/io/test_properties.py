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


def _voi_lut(ds, bits, seed):
    """A random monotonic 12-bit VOI LUT over the stored range."""
    from pydicom.sequence import Sequence

    rng = np.random.default_rng(seed)
    item = Dataset()
    entries = 2**bits if bits < 16 else 0
    item.LUTDescriptor = [entries, 0, 12]
    item.LUTData = np.sort(rng.integers(0, 4096, entries or 2**16)).astype(np.uint16).tolist()
    ds.VOILUTSequence = Sequence([item])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bits=st.integers(8, 16),
    signed=st.booleans(),
    photometric=st.sampled_from(["MONOCHROME1", "MONOCHROME2"]),
    voi=st.sampled_from(["window", "lut", "min-max"]),
    rescale=st.one_of(st.none(), st.tuples(st.floats(-10, 10).filter(lambda s: abs(s) > 0.01), st.floats(-2000, 2000))),
    padding=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_lookup_table_path_equals_per_pixel_path(bits, signed, photometric, voi, rescale, padding, seed):
    """<=16-bit images go through a 65,536-entry table; the answer must be the per-pixel one."""
    rng = np.random.default_rng(seed)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    stored = rng.integers(lo, hi, (24, 40)).astype(np.int16 if signed else np.uint16)
    slope, intercept = rescale if rescale else (None, None)
    ds = _ds(bits, photometric, float(rng.uniform(lo, hi)), float(rng.uniform(1, hi - lo)) if voi == "window" else None, "LINEAR", slope, intercept)
    ds.PixelRepresentation = int(signed)
    if voi == "lut" and not signed:
        _voi_lut(ds, bits, seed)
    if padding:  # a padded border, as collimated films have; its value must not set the min-max range
        stored[:, :4] = lo
        ds.PixelPaddingValue = lo
    fast, info_fast = to_display(stored, ds)
    slow, info_slow = to_display(stored.astype(np.int32), ds)  # 32-bit: per-pixel path
    np.testing.assert_array_equal(fast, slow)
    assert info_fast == info_slow
    assert info_fast.voi == {"window": "window", "lut": "voi-lut-sequence" if not signed else "min-max", "min-max": "min-max"}[voi]
