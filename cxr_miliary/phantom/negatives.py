"""Pictures that are not radiographs but look like lungs to a segmenter: drawings, for the lung model to learn "no lung here".

A lung model trained on films alone learns "two dark regions side by side are lungs": a fine-
tune on opacified phantoms drew fields (with vessel-like edges) into drawings of two dark
ellipses, and the frontal-chest check then accepted 9 of 16 of them. These pictures go into
its training set with an empty mask. They are a family of their own - shapes anywhere, any
number, filled or outlined; pairs of near-mirrored shapes (ellipses or irregular polygons)
side by side; flat lung silhouettes of the phantom anatomy; on shaded grounds - so the test
suite's drawings (``tests/hostile_images.py``) stay unseen examples of what the model should
refuse, not copies of its training images.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .anatomy import render_anatomy

#: The ``source`` of their lung-manifest rows: no mask, every pixel background.
SOURCE = "negative"
#: The kinds drawn (one per image, by the image's own random stream).
KINDS = ("shapes", "pair", "silhouette")


def _ground(size: int, rng: np.random.Generator) -> np.ndarray:
    """A light ground with a slow shading across it (paper, a screen, a scan)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) * rng.uniform(-0.15, 0.15)
    return (rng.uniform(0.55, 0.92) + ramp).astype(np.float32)


def _shapes(size: int, rng: np.random.Generator) -> np.ndarray:
    img = _ground(size, rng)
    for _ in range(int(rng.integers(1, 5))):
        value = float(rng.uniform(0.08, 0.45))
        centre = (int(rng.uniform(0.15, 0.85) * size), int(rng.uniform(0.15, 0.85) * size))
        thickness = -1 if rng.random() < 0.75 else max(1, int(size * rng.uniform(0.004, 0.015)))
        if rng.random() < 0.6:
            axes = (int(rng.uniform(0.05, 0.2) * size), int(rng.uniform(0.1, 0.35) * size))
            cv2.ellipse(img, centre, axes, float(rng.uniform(-30, 30)), 0, 360, value, thickness)
        else:
            n = int(rng.integers(3, 8))
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            radii = rng.uniform(0.06, 0.25, n) * size
            pts = np.stack([centre[0] + radii * np.cos(angles), centre[1] + 1.4 * radii * np.sin(angles)], 1).astype(np.int32)
            if thickness < 0:
                cv2.fillPoly(img, [pts], value)
            else:
                cv2.polylines(img, [pts], True, value, thickness)
    return img


def _pair(size: int, rng: np.random.Generator) -> np.ndarray:
    """Two dark shapes side by side, near mirror images: the drawing most like a pair of lungs."""
    img = _ground(size, rng)
    mid, gap = rng.uniform(0.4, 0.6), rng.uniform(0.12, 0.3)
    cy, half_h, half_w = rng.uniform(0.35, 0.6), rng.uniform(0.15, 0.35), rng.uniform(0.06, 0.18)
    polygon = rng.random() < 0.5
    outline = np.stack([np.cos(np.linspace(0, 2 * np.pi, 9)[:-1]), np.sin(np.linspace(0, 2 * np.pi, 9)[:-1])], 1) * rng.uniform(0.7, 1.3, (8, 1))
    for side in (-1, 1):
        cx = (mid + side * gap) * size
        value = float(rng.uniform(0.08, 0.45))
        jitter = rng.uniform(0.85, 1.15, 2)
        if polygon:
            pts = np.stack([cx + side * outline[:, 0] * half_w * size * jitter[0], cy * size + outline[:, 1] * half_h * size * jitter[1]], 1)
            cv2.fillPoly(img, [pts.astype(np.int32)], value)
        else:
            axes = (int(half_w * size * jitter[0]), int(half_h * size * jitter[1]))
            cv2.ellipse(img, (int(cx), int(cy * size)), axes, float(side * rng.uniform(0, 15)), 0, 360, value, -1)
    return img


def _silhouette(size: int, rng: np.random.Generator) -> np.ndarray:
    """The phantom anatomy's lungs drawn flat (both, or one), sometimes on a body a shade darker than the paper."""
    anat = render_anatomy(size, rng)
    img = _ground(size, rng)
    if rng.random() < 0.5:  # a body a shade darker than the paper
        body = cv2.GaussianBlur(anat.attenuation, (0, 0), size / 50) > np.percentile(anat.attenuation, 30)
        img[body] -= rng.uniform(0.05, 0.2)
    lungs = anat.lung_mask
    if rng.random() < 0.25:  # or only one side of it
        lungs = lungs & ((np.arange(size) < size // 2)[None, :] if rng.random() < 0.5 else (np.arange(size) >= size // 2)[None, :])
    img[lungs] = rng.uniform(0.08, 0.45)
    if rng.random() < 0.4:  # smooth texture inside the fields: still no vessels, no ribs
        tex = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), size / rng.uniform(20, 80))
        img[lungs] += (tex[lungs] - tex.mean()) * rng.uniform(0.5, 2.0)
    return img


def render_negative(seed: int, index: int, size: int = 512) -> np.ndarray:
    """Picture ``index`` of the set ``seed``: float32 [0, 1], white = dense, like a film; it has no lung in it."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 4242]))
    kind = KINDS[int(rng.integers(len(KINDS)))]
    img = {"shapes": _shapes, "pair": _pair, "silhouette": _silhouette}[kind](size, rng)
    img = cv2.GaussianBlur(img, (0, 0), size / rng.uniform(120, 600))
    img = img + rng.normal(0, rng.uniform(0.003, 0.04), img.shape).astype(np.float32)
    if rng.random() < 0.15:  # light shapes on a dark ground
        img = 1.0 - img
    return np.clip(img, 0, 1).astype(np.float32)


def write_negatives(n: int, out: str | Path, *, seed: int, size: int = 512) -> list[dict[str, str]]:
    """Write ``n`` pictures as PNG under ``out`` and return lung-manifest rows with no mask (``source`` ``negative``).

    Made once: a picture already on disk is kept (the names carry the seed and index, so a
    set made again with another ``size`` needs another folder).
    """
    from PIL import Image

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        path = folder / f"neg{seed}_{i:06d}.png"
        if not path.exists():
            Image.fromarray((render_negative(seed, i, size) * 65535).round().astype(np.uint16)).save(path)
        rows.append({"path": str(path), "mask": "", "patient_id": f"NEG{seed}-{i:06d}", "source": SOURCE})
    return rows
