"""Lung-mask sets read in their published layouts: JSRT + SCR, Montgomery, Shenzhen, phantoms."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from cxr_miliary.data.lung_masks import jsrt_manifest, montgomery_manifest, phantom_lung_manifest, read_jsrt, read_sample, shenzhen_manifest
from cxr_miliary.phantom import generate_phantoms, render_phantom


def _two_lungs(shape):
    """A film-like image (lungs dark), the image-left lung mask and the image-right lung mask."""
    h, w = shape
    img = np.full(shape, 0.8, np.float32)
    left = np.zeros(shape, bool)
    right = np.zeros(shape, bool)
    left[h // 5 : 4 * h // 5, w // 8 : 3 * w // 8] = True
    right[h // 5 : 4 * h // 5, 5 * w // 8 : 7 * w // 8] = True
    img[left | right] = 0.3
    return img, left, right


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_jsrt_raw_with_scr_gif_masks(tmp_path):
    img, left_img, right_img = _two_lungs((2048, 2048))
    raw = np.round((1.0 - img) * 4095).astype(">u2")  # stored inverted, as some exports are: the reader decides from the masks
    (tmp_path / "jsrt").mkdir()
    raw.tofile(tmp_path / "jsrt" / "JPCLN001.IMG")
    small = lambda m: np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((1024, 1024), Image.NEAREST))  # noqa: E731
    # SCR names lungs anatomically: the patient's right lung is on the image's left
    Image.fromarray(small(left_img)).save(_mk(tmp_path / "scr" / "masks" / "right lung" / "JPCLN001.gif"))
    Image.fromarray(small(right_img)).save(_mk(tmp_path / "scr" / "masks" / "left lung" / "JPCLN001.gif"))
    (tmp_path / "jsrt" / "JPCNN002.IMG").write_bytes(b"")  # no masks: left out
    df = jsrt_manifest(tmp_path / "jsrt", tmp_path / "scr", tmp_path / "m.csv")
    assert len(df) == 1 and df["source"].iloc[0] == "jsrt"
    pixels, target = read_sample(df.iloc[0].to_dict())
    assert pixels.shape == (2048, 2048) and read_jsrt(tmp_path / "jsrt" / "JPCLN001.IMG").mean() < 0.5  # as stored: body dark

    assert pixels[target == 1].mean() < pixels[target == 0].mean()  # polarity fixed: lungs dark
    assert target[1000, 500] == 1 and target[1000, 1500] == 2 and target[50, 50] == 0


def _mk(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_montgomery_left_right_mask_folders(tmp_path):
    img, left_img, right_img = _two_lungs((400, 360))
    root = tmp_path / "MontgomerySet"
    _png(root / "CXR_png" / "MCUCXR_0001_0.png", (img * 255).astype(np.uint8))
    _png(root / "ManualMask" / "leftMask" / "MCUCXR_0001_0.png", right_img.astype(np.uint8) * 255)  # the patient's left lung
    _png(root / "ManualMask" / "rightMask" / "MCUCXR_0001_0.png", left_img.astype(np.uint8) * 255)
    df = montgomery_manifest(root, tmp_path / "m.csv")
    _, target = read_sample(df.iloc[0].to_dict())
    assert target[200, 90] == 1 and target[200, 270] == 2


def test_shenzhen_combined_masks_are_split_by_side(tmp_path):
    img, left_img, right_img = _two_lungs((300, 300))
    root = tmp_path / "ChinaSet_AllFiles"
    _png(root / "CXR_png" / "CHNCXR_0001_0.png", (img * 255).astype(np.uint8))
    _png(tmp_path / "masks" / "CHNCXR_0001_0_mask.png", (left_img | right_img).astype(np.uint8) * 255)
    _png(root / "CXR_png" / "CHNCXR_0002_1.png", (img * 255).astype(np.uint8))  # no published mask: left out
    df = shenzhen_manifest(root, tmp_path / "masks", tmp_path / "m.csv")
    assert len(df) == 1
    _, target = read_sample(df.iloc[0].to_dict())
    assert set(np.unique(target[left_img])) == {1} and set(np.unique(target[right_img])) == {2}


def test_phantom_masks_carry_the_sides(tmp_path):
    man = generate_phantoms(3, tmp_path / "ph", seed=88, size=256)
    df = phantom_lung_manifest(man, tmp_path / "m.csv")
    assert len(df) == 3 and set(df["split"]) <= {"train", "val", "test"}
    _, target = read_sample(df.iloc[0].to_dict())
    ph = render_phantom(88, 0, size=256)
    assert ((target > 0) == ph.lung_mask).mean() > 0.999
    assert (target[ph.lung_side == 1] == 1).all() and (target[ph.lung_side == 2] == 2).all()
    assert pd.read_csv(tmp_path / "m.csv").shape[0] == 3
