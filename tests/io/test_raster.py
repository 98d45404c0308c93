"""PNG / JPEG / TIFF decoding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxr_miliary import load_image
from cxr_miliary.io import RejectedImageError, UnreadableImageError


def _save16(path, arr):
    Image.fromarray(arr.astype(np.uint16)).save(path)
    return path


def test_png_8bit_is_display_ready(tmp_path):
    arr = np.tile(np.arange(256, dtype=np.uint8), (20, 1))
    Image.fromarray(arr).save(tmp_path / "a.png")
    rad = load_image(tmp_path / "a.png")
    np.testing.assert_allclose(rad.pixels, arr / 255.0, atol=1e-7)
    assert rad.meta.source_format == "png" and rad.meta.bits_stored == 8


def test_png_16bit_with_12_significant_bits_has_full_contrast(tmp_path):
    """PadChest-style: 12 significant bits in a 16-bit PNG must not come out nearly black."""
    rng = np.random.default_rng(0)
    arr = rng.integers(300, 3900, (64, 64)).astype(np.uint16)
    arr[0, 0], arr[0, 1] = 300, 3900
    rad = load_image(_save16(tmp_path / "a.png", arr))
    assert rad.pixels.min() == 0.0 and rad.pixels.max() == 1.0
    np.testing.assert_allclose(rad.pixels, (arr - 300) / 3600, atol=1e-6)
    assert rad.meta.bits_stored == 12
    assert rad.pixels.mean() > 0.3


def test_rgb_with_equal_channels_is_grey(tmp_path):
    grey = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "a.png")
    rad = load_image(tmp_path / "a.png")
    np.testing.assert_allclose(rad.pixels, grey / 255.0, atol=1e-7)


def test_true_colour_rejected_unless_forced(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    with pytest.raises(RejectedImageError) as err:
        load_image(tmp_path / "c.png")
    assert err.value.code == "colour" and "c.png" in str(err.value)
    assert load_image(tmp_path / "c.png", force=True).pixels.shape == (32, 32)


def test_jpeg_and_tiff(tmp_path):
    arr = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
    Image.fromarray(arr).save(tmp_path / "a.jpg", quality=95)
    rad = load_image(tmp_path / "a.jpg")
    assert rad.meta.source_format == "jpeg"
    np.testing.assert_allclose(rad.pixels, arr / 255.0, atol=0.03)
    arr16 = (np.tile(np.linspace(0, 1000, 64), (64, 1))).astype(np.uint16)
    Image.fromarray(arr16).save(tmp_path / "a.tif")
    rad = load_image(tmp_path / "a.tif")
    assert rad.meta.source_format == "tiff" and rad.pixels.max() == 1.0


def test_decompression_bomb_is_an_error(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(UnreadableImageError) as err:
        load_image(tmp_path / "a.png")
    assert err.value.code == "decompression-bomb"


def test_raster_size_limit_before_decoding(tmp_path):
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(RejectedImageError) as err:
        load_image(tmp_path / "a.png", max_pixels=1000)
    assert err.value.code == "too-large"


def test_truncated_png(tmp_path):
    arr = np.random.default_rng(0).integers(0, 65535, (128, 128)).astype(np.uint16)
    data = _save16(tmp_path / "a.png", arr).read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError) as err:
        load_image(tmp_path / "t.png")
    assert "t.png" in str(err.value)
