"""Recognising files: stat first, DICOM by content (with or without the Part 10 header), never a hang."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import make_dicom, ramp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxr_miliary.io import ImageError, UnreadableImageError, load_image, sniff_format
from cxr_miliary.io.files import legacy_dicom_encoding

REAL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real" / "CR-MONO1-10-chest.dcm"


def write_legacy(src: Path, dst: Path, implicit: bool = True) -> Path:
    """The data set of ``src`` without preamble, 'DICM' and file meta, as legacy archives hold them."""
    ds = pydicom.dcmread(src)
    ds.preamble = None
    del ds.file_meta
    ds.save_as(dst, enforce_file_format=False, implicit_vr=implicit, little_endian=True)
    return dst


@pytest.mark.parametrize("implicit", [True, False])
def test_legacy_files_are_read_with_a_warning(tmp_path, implicit):
    part10 = make_dicom(tmp_path / "a.dcm", ramp(rows=64, cols=64))
    legacy = write_legacy(part10, tmp_path / "legacy.img", implicit)
    head = legacy.read_bytes()[:132]
    assert head[128:132] != b"DICM" and head[:2] == b"\x08\x00"
    assert sniff_format(legacy) == "dicom-legacy"
    a, b = load_image(part10), load_image(legacy)
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert any(w.startswith("no-part10-header") for w in b.meta.warnings)
    assert not any(w.startswith("no-part10-header") for w in a.meta.warnings)


def test_the_real_legacy_film(tmp_path):
    if not REAL.exists():
        pytest.skip("the shared real film is not in this checkout")
    rad = load_image(REAL)
    assert rad.shape == (440, 440) and rad.meta.modality == "CR" and rad.meta.inverted and rad.meta.bits_stored == 10
    assert rad.meta.transfer_syntax == "Implicit VR Little Endian" and any(w.startswith("no-part10-header") for w in rad.meta.warnings)
    # MONOCHROME1: the lungs (dark on display) are darker than the mediastinum between them
    assert rad.pixels[150:300, 80:160].mean() < rad.pixels[150:300, 200:240].mean()


def test_not_dicom_without_the_prefix_stays_not_dicom(tmp_path):
    text = tmp_path / "notes.dcm"
    text.write_text("patient notes, not an image\n" * 20)
    with pytest.raises(UnreadableImageError) as exc:
        load_image(text)
    assert exc.value.code == "not-dicom"
    assert legacy_dicom_encoding(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + b"\xff" * 40, 60) is None  # one element, then garbage


def test_special_files_are_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.dcm")
    with pytest.raises(UnreadableImageError) as exc:
        load_image(tmp_path / "pipe.dcm")  # would block forever if opened
    assert exc.value.code == "not-a-file" and "FIFO" in exc.value.reason
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(UnreadableImageError) as exc:
        load_image(tmp_path / "loop")
    assert exc.value.code == "symlink-loop"
    with pytest.raises(UnreadableImageError) as exc:
        load_image(tmp_path / ("x" * 300 + ".dcm"))
    assert exc.value.code == "name-too-long"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    head=st.sampled_from([b"", b"\x08\x00", b"\x08\x00\x00\x00\x04\x00\x00\x00", b"\x89PNG\r\n\x1a\n", b"\x08\x00\x08\x00CS"]),
    body=st.binary(max_size=600),
)
def test_fuzz_headerless_bytes_never_crash(tmp_path, head, body):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(head + body)
    try:
        rad = load_image(path)
    except ImageError:
        return
    assert np.isfinite(rad.pixels).all() and 0 <= rad.pixels.min() <= rad.pixels.max() <= 1
