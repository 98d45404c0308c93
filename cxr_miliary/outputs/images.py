"""Image files ``predict`` and ``score`` write: overlay PNGs and ``.npy`` maps, atomically.

Both commands draw the overlay on the same preview (:func:`preview`, at most
:data:`PREVIEW_SIDE` pixels a side: what :func:`~cxr_miliary.explain.render.overlay`
draws at anyway), so an overlay is the same picture whichever command wrote it.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..explain.render import overlay

PREVIEW_SIDE = 1024


def preview(pixels: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """A copy of the image at most ``side`` pixels a side (area-averaged), float32."""
    h, w = pixels.shape
    f = min(1.0, side / max(h, w))
    if f >= 1.0:
        return pixels.astype(np.float32, copy=False)
    return cv2.resize(pixels.astype(np.float32), (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def overlay_rgb(small: np.ndarray, cam: np.ndarray, lung_mask: np.ndarray | None, caption: str) -> np.ndarray:
    """The overlay (map, lung outline, caption) drawn on a :func:`preview`."""
    return overlay(small, cam, lung_mask, caption, max_side=PREVIEW_SIDE)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def save_png(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an RGB image as PNG atomically (a crash never leaves a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        Image.fromarray(rgb).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_map(path: str | os.PathLike[str], cam: np.ndarray) -> Path:
    """Write a map as ``.npy`` (float16, no pickle) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, cam.astype(np.float16), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
