"""Map files sized for archives, and reading any map back at any size.

``compact`` (the default, ``.npz``): the map at the resolution it was computed at - a
copy of the image at most 512 pixels a side, the image's own aspect, so no letterbox is
left to undo - as float16, with the image's size to place it; compressed. Read back with
:func:`load_map` at the image's size (or any other) it equals the full-resolution map
``predict`` holds within float16 precision (at most 2**-11, about 0.0005, on the [0, 1]
scale), because both are the same working map enlarged by the same bilinear step. About
0.1-0.3 MB per film instead of 8 MB.

``full`` (``.npy``): the map at the image's full resolution as float16 (what every map
file was before): 8 MB for a 2,048-px film.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path

MAP_FORMATS = {"compact": ".npz", "full": ".npy"}
#: Format version inside compact files.
VERSION = 1


def save_full_map(path: str | os.PathLike[str], cam: np.ndarray) -> Path:
    """Write a map array at full resolution as ``.npy`` (float16, no pickle) atomically (``--map-format full``)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.asarray(cam).astype(np.float16), allow_pickle=False)
    return path


def save_map(path: str | os.PathLike[str], explanation: Any, fmt: str = "compact") -> Path:
    """Write an :class:`~cxr_miliary.explain.Explanation`'s map atomically (``compact`` .npz or ``full`` .npy)."""
    if fmt not in MAP_FORMATS:
        raise ValueError(f"map format must be one of {', '.join(MAP_FORMATS)}")
    if fmt == "full":
        return save_full_map(path, explanation.cam_at())
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            map=explanation.small.astype(np.float16),
            image_shape=np.asarray(explanation.shape, dtype=np.int64),
            version=np.asarray(VERSION, dtype=np.int64),
        )
    return path


def load_map(path: str | os.PathLike[str], image_shape: tuple[int, int] | None = None) -> np.ndarray:
    """A map file (compact ``.npz`` or full ``.npy``) as float32 in [0, 1] at ``image_shape`` (default: the image's own size).

    Raises:
        ValueError: Not a map file of this project (nothing is unpickled).
    """
    from .pipeline import resize_map

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
            fh.seek(0)
            if head.startswith(b"\x93NUMPY"):
                arr = np.load(fh, allow_pickle=False)
                shape = tuple(arr.shape)
            else:
                with np.load(fh, allow_pickle=False) as z:
                    arr, shape = z["map"], tuple(int(v) for v in z["image_shape"])
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a cxr-miliary map file ({type(exc).__name__})") from None
    if arr.ndim != 2 or len(shape) != 2:
        raise ValueError(f"{path}: not a cxr-miliary map file (a {arr.ndim}-D array)")
    return resize_map(arr.astype(np.float32), image_shape or shape)  # type: ignore[arg-type]
