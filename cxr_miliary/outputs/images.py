"""Image files ``predict`` and ``score`` write: overlays (JPEG or PNG) and map files, atomically.

Both commands draw the overlay on the same preview (:func:`~cxr_miliary.inference.decoding.preview`,
at most 1,024 pixels a side unless a full-size overlay is asked for), so an overlay is the
same picture whichever command wrote it. The encoding follows the file's suffix: ``.jpg``
/ ``.jpeg`` is JPEG (quality 90: about 0.2 MB at 1,024 px, written in a few milliseconds),
anything else PNG (lossless, about 1.4 MB at 1,024 px).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_path
from ..explain.render import overlay
from ..inference.decoding import PREVIEW_SIDE, preview  # noqa: F401 - preview is re-exported for callers of the first API

JPEG_SUFFIXES = (".jpg", ".jpeg")
JPEG_QUALITY = 90


def overlay_rgb(small: np.ndarray, cam: np.ndarray, lung_mask: np.ndarray | None, caption: str, max_side: int | None = PREVIEW_SIDE) -> np.ndarray:
    """The overlay (map, lung outline, caption) drawn on a preview, at most ``max_side`` pixels a side (None: the preview's size)."""
    return overlay(small, cam, lung_mask, caption, max_side=max_side or max(small.shape))


def save_overlay(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an overlay atomically: JPEG for ``.jpg``/``.jpeg``, PNG otherwise."""
    path = Path(path)
    jpeg = path.suffix.lower() in JPEG_SUFFIXES
    with atomic_path(path) as tmp:
        if jpeg:
            Image.fromarray(rgb).save(tmp, format="JPEG", quality=JPEG_QUALITY)
        else:
            Image.fromarray(rgb).save(tmp, format="PNG")
    return path


def save_png(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an RGB image as PNG atomically (a crash never leaves a half-written file)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")
    return path
