"""Overlay PNGs and .npy maps: one preview for both commands, atomic files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxr_miliary.explain.mapfile import save_full_map as save_map
from cxr_miliary.outputs.images import PREVIEW_SIDE, overlay_rgb, preview, save_png


def test_preview_caps_the_side_and_keeps_small_images():
    big = np.random.default_rng(0).random((3000, 1500)).astype(np.float32)
    small = preview(big)
    assert small.shape == (PREVIEW_SIDE, 512) and small.dtype == np.float32
    assert abs(small.mean() - big.mean()) < 0.01
    tiny = np.ones((100, 80), np.float32)
    assert preview(tiny) is tiny or np.array_equal(preview(tiny), tiny)


def test_overlay_and_files(tmp_path):
    img = np.linspace(0, 1, 300 * 200, dtype=np.float32).reshape(300, 200)
    cam = np.zeros((300, 200), np.float32)
    cam[100:200, 50:150] = 1.0
    lungs = cam > 0
    rgb = overlay_rgb(preview(img), cam, lungs, "p=0.9 POSITIVE")
    assert rgb.shape == (300, 200, 3) and rgb.dtype == np.uint8
    assert rgb[150, 100].tolist() != rgb[250, 100].tolist()  # the hot region is coloured
    png = save_png(tmp_path / "sub" / "o.png", rgb)
    with Image.open(png) as back:
        assert back.size == (200, 300)
    npy = save_map(tmp_path / "m.npy", cam)
    arr = np.load(npy, allow_pickle=False)
    assert arr.dtype == np.float16 and arr.shape == (300, 200) and arr.max() == 1.0
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["m.npy", "o.png"]  # no temporaries


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(OSError):
        save_map(tmp_path / "m.npy", np.zeros((4, 4), np.float32))
    assert list(tmp_path.iterdir()) == []
