"""Format recognition by content and the clear errors for non-images."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import make_dicom, ramp
from PIL import Image

from cxr_miliary import load_image
from cxr_miliary.io import RejectedImageError, UnreadableImageError


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.dcm", b"", "empty-file"),
        ("empty.png", b"", "empty-file"),
        ("notes.png", b"this is a text file, not a picture\n" * 10, "not-an-image"),
        ("notes.dcm", b"this is a text file, not a DICOM file\n" * 10, "not-dicom"),
        ("short.dcm", b"DICM", "truncated"),
        ("noext", b"\x00" * 300, "not-an-image"),
    ],
)
def test_non_images_give_clear_errors(tmp_path, name, content, code):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableImageError) as err:
        load_image(path)
    assert err.value.code == code
    assert str(err.value).startswith(str(path))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UnreadableImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(UnreadableImageError, match="not a regular file"):
        load_image(tmp_path)


def test_format_by_content_not_extension(tmp_path):
    dcm = make_dicom(tmp_path / "a.dcm", ramp())
    disguised = tmp_path / "scan.png"
    disguised.write_bytes(dcm.read_bytes())
    assert load_image(disguised).meta.source_format == "dicom"
    Image.fromarray(np.full((32, 32), 7, np.uint8) + np.eye(32, dtype=np.uint8)).save(tmp_path / "x.png")
    (tmp_path / "x.dcm").write_bytes((tmp_path / "x.png").read_bytes())
    assert load_image(tmp_path / "x.dcm").meta.source_format == "png"


def test_blank_image_rejected(tmp_path):
    Image.fromarray(np.full((32, 32), 100, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(RejectedImageError) as err:
        load_image(tmp_path / "blank.png")
    assert err.value.code == "blank"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels_are_an_error(tmp_path, bad):
    arr = np.linspace(0, 1000, 32 * 32, dtype=np.float32).reshape(32, 32)
    arr[5, 7] = bad
    Image.fromarray(arr, mode="F").save(tmp_path / "float.tif")
    with pytest.raises(UnreadableImageError) as err:
        load_image(tmp_path / "float.tif")
    assert err.value.code == "non-finite" and "float.tif" in str(err.value)


def test_a_phantom_says_it_is_one_in_its_file_and_nothing_else_does(tmp_path, pydicom_file):
    from cxr_miliary.phantom import generate_phantoms

    generate_phantoms(1, tmp_path, seed=2, size=96, formats=("png", "dcm"))
    for f in (tmp_path / "images").glob("*"):
        assert load_image(f).meta.synthetic is True  # DICOM: the Manufacturer; PNG: a text chunk
    plain = tmp_path / "plain.png"
    Image.fromarray((load_image(next((tmp_path / "images").glob("*.png"))).pixels * 255).astype(np.uint8)).save(plain)
    assert load_image(plain).meta.synthetic is False  # the same pixels without the chunk are a real film to us
    assert load_image(pydicom_file("CT_small.dcm"), force=True).meta.synthetic is False
