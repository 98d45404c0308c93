"""Inserted films written as DICOM: the source's own pixel format, changed only where drawn, de-identified."""

from __future__ import annotations

import numpy as np
import pydicom

from cxr_miliary.insertion.dicom import stored_from_display, write_inserted_dicom
from cxr_miliary.io import load_image
from cxr_miliary.io.grayscale import to_display
from cxr_miliary.phantom import generate_phantoms


def test_only_the_changed_pixels_change_and_identifiers_go(tmp_path):
    generate_phantoms(1, tmp_path / "ph", seed=92, size=192, formats=("dcm",))
    src = next((tmp_path / "ph" / "images").glob("*.dcm"))
    before = load_image(src).pixels
    changed = np.zeros(before.shape, bool)
    changed[80:100, 60:80] = True
    wanted = np.where(changed, np.clip(before + 0.05, 0, 1), before)
    out = write_inserted_dicom(src, tmp_path / "ins.dcm", wanted, changed, ["1", str(src), "0"])
    after = load_image(out).pixels
    assert np.array_equal(after[~changed], before[~changed])
    assert np.abs(after[changed] - wanted[changed]).max() < 2 / 4095 + 1e-6
    a, s = pydicom.dcmread(out), pydicom.dcmread(src)
    assert a.SOPInstanceUID != s.SOPInstanceUID and a.get("PatientIdentityRemoved") == "YES"
    assert a.BitsStored == s.BitsStored and a.PhotometricInterpretation == s.PhotometricInterpretation


def test_stored_values_invert_the_display_chain():
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.BitsStored, ds.BitsAllocated, ds.PixelRepresentation, ds.PhotometricInterpretation = 12, 16, 0, "MONOCHROME1"
    stored = np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)
    display, _ = to_display(stored, ds)
    back = stored_from_display(ds, stored, display, np.ones(stored.shape, bool))
    assert np.array_equal(back, stored)
