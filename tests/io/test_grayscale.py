"""Stored values to display values through the file's own chain: windows, inversion, padding."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from cxr_miliary.io.grayscale import to_display


def _ds(**kw) -> Dataset:
    ds = Dataset()
    ds.BitsStored, ds.BitsAllocated, ds.PixelRepresentation, ds.PhotometricInterpretation = 12, 16, 0, "MONOCHROME2"
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def test_monochrome1_is_inverted_and_a_window_clips():
    stored = np.array([[0, 1024, 2048, 4095]], np.uint16)
    plain, info = to_display(stored, _ds())
    assert plain[0, 0] < plain[0, 3] and not info.inverted and plain.min() >= 0 and plain.max() <= 1
    inv, info = to_display(stored, _ds(PhotometricInterpretation="MONOCHROME1"))
    assert inv[0, 0] > inv[0, 3] and info.inverted
    win, info = to_display(stored, _ds(WindowCenter=1024, WindowWidth=512))
    assert win[0, 0] == 0.0 and win[0, 2] == 1.0 and info.voi == "window"


def test_padding_is_not_counted_as_image():
    stored = np.full((8, 8), 100, np.uint16)
    stored[:, :2] = 4095
    _, info = to_display(stored, _ds(PixelPaddingValue=4095))
    assert abs(info.padding_fraction - 0.25) < 1e-9
