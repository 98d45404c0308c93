"""Phantom provenance: a phantom says it is one in DICOM and PNG; nothing else does."""

from __future__ import annotations

import numpy as np
from PIL import Image

from cxr_miliary.io.provenance import PHANTOM_MANUFACTURER, dicom_is_synthetic, png_text, raster_is_synthetic


def test_only_a_phantom_is_synthetic(tmp_path):
    assert dicom_is_synthetic(PHANTOM_MANUFACTURER) and dicom_is_synthetic(f" {PHANTOM_MANUFACTURER} ")
    assert not dicom_is_synthetic("Philips Medical Systems") and not dicom_is_synthetic(None)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "p.png", pnginfo=png_text())
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "r.png")
    with Image.open(tmp_path / "p.png") as p, Image.open(tmp_path / "r.png") as r:
        assert raster_is_synthetic(p.info) and not raster_is_synthetic(r.info)
