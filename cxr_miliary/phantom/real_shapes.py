"""Lung outlines drawn by people on real films, for phantoms whose lungs have real shapes.

TorchXRayVision ships V7 Labs' lung masks of 517 films of the COVID-19 image collection (many
AP portable films, many with both lungs white; the films themselves are not shipped). Their
lungs are shorter for their width than the parametric phantom's (a lung box 0.815 as tall as
wide, median, against 0.95-0.98), their costophrenic angles are not level, their domes and
apices have the shapes real patients have. A phantom of the ``real-lungs`` condition takes
one of these outlines for its lungs, scaled to its own chest; the heart and mediastinum
still carve the medial lung as on every phantom (V7's masks run behind the heart, the
fields this project outlines stop at its border), and the ribs keep to the chest's own
size, so they run on below lungs that stop short.

Each mask pair is reduced to a canonical grid over the two lungs' joint box. One pair in
five (by a hash of its file name) is held out: the training films never draw it, and the
bench measures on it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage as ndi

#: Side of the canonical grid each lung pair is kept at (over the pair's joint box).
GRID = 192
#: The smaller lung is at least this share of the larger, or the mask is no pair of lungs
#: (one lung drawn, a lung and a stray stroke).
MIN_PAIR_RATIO = 0.3
SPLITS = ("train", "held-out")
#: Masks are read at most this many pixels a side (they are drawn at up to 2,000).
READ_MAX = 640
ARCHIVE = "semantic_masks_v7labs_lungs.zip"
#: Names the archive itself, for a machine without TorchXRayVision (a lent GPU machine is sent
#: the 2-MB archive, not the 29-MB package: docs/training.md, "The lung network on a GPU").
ARCHIVE_ENV = "CXR_MILIARY_LUNG_MASKS"


@dataclass(frozen=True)
class RealShape:
    """One pair of real lung outlines on a canonical grid.

    Attributes:
        name: The mask's file name in the archive.
        sides: float32 (2, GRID, GRID): the image-left and image-right lung over the pair's
            joint box, smoothed so that 0.5 is the drawn edge.
        ratio: The joint box's height over its width, in the film's pixels.
    """

    name: str
    sides: np.ndarray
    ratio: float


def archive_path() -> Path | None:
    """Where TorchXRayVision's lung-mask archive lies (found without importing it), or None.

    ``$CXR_MILIARY_LUNG_MASKS``, when set, names it instead (None when that is no file).
    """
    named = os.environ.get(ARCHIVE_ENV)
    if named:
        return Path(named) if Path(named).is_file() else None
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / ARCHIVE
    return path if path.is_file() else None


def split_of(name: str) -> str:
    """``held-out`` for one mask in five (a stable hash of its name in the archive, folder included), else ``train``."""
    return SPLITS[1] if hashlib.sha256(name.encode()).digest()[0] % 5 == 0 else SPLITS[0]


def canonical(mask: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The two largest regions of a drawn lung mask on the canonical grid, and their box's height over width; None if it is no pair."""
    labels, n = ndi.label(mask)
    if n < 2:
        return None
    sizes = ndi.sum(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    a, b = (int(k) + 1 for k in np.argsort(sizes)[::-1][:2])
    if sizes[b - 1] < MIN_PAIR_RATIO * sizes[a - 1]:
        return None
    pair = (labels == a) | (labels == b)
    rows, cols = np.flatnonzero(pair.any(axis=1)), np.flatnonzero(pair.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    left, right = ((labels == a), (labels == b))
    if ndi.center_of_mass(right)[1] < ndi.center_of_mass(left)[1]:
        left, right = right, left
    out = np.stack([_to_grid(side[box]) for side in (left, right)])
    return out, float((rows[-1] - rows[0] + 1) / (cols[-1] - cols[0] + 1))  # extents: the gap between the lungs counts


def _to_grid(side: np.ndarray) -> np.ndarray:
    """A bool mask area-averaged onto the grid, smoothed a little (the drawn edge stays at 0.5, its steps are gone)."""
    small = cv2.resize(side.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), 1.5)


def read_masks(step: int = 1, read_max: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """(name in the archive, bool mask) of every ``step``-th drawn mask in the archive, in name order; none if a mask holds no lung.

    Args:
        step: Read every ``step``-th mask.
        read_max: Shrink masks larger than this many pixels a side before thresholding
            (None: as drawn, up to 2,000).

    Raises:
        FileNotFoundError: This environment has no TorchXRayVision with the archive
            (``pip install 'cxr-miliary[txv]'``) and ``$CXR_MILIARY_LUNG_MASKS`` names none.
    """
    path = archive_path()
    if path is None:
        raise FileNotFoundError(
            f"the real-lungs condition needs TorchXRayVision's {ARCHIVE} (pip install 'cxr-miliary[txv]', or ${ARCHIVE_ENV} naming it)"
        )
    with zipfile.ZipFile(path) as z:
        names = sorted(n for n in z.namelist() if not n.endswith("/"))
        for name in names[::step]:
            img = cv2.imdecode(np.frombuffer(z.read(name), np.uint8), cv2.IMREAD_GRAYSCALE)
            if img is None:
                continue
            f = min(1.0, read_max / max(img.shape)) if read_max else 1.0
            if f < 1.0:
                img = cv2.resize(img, (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f))), interpolation=cv2.INTER_AREA)
            if (img > 127).any():
                yield name, img > 127


@functools.cache
def real_shapes(split: str) -> tuple[RealShape, ...]:
    """Every usable pair of ``split`` (``train`` or ``held-out``), in the archive's name order.

    Raises:
        FileNotFoundError: As :func:`read_masks`.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (got {split!r})")
    out = []
    # 3 read pixels per grid pixel are plenty, and labelling them is 5x faster than at 2,000 px
    for name, mask in read_masks(read_max=READ_MAX):
        pair = canonical(mask) if split_of(name) == split else None
        if pair is not None:
            out.append(RealShape(name.rsplit("/", 1)[-1], pair[0].astype(np.float32), pair[1]))
    return tuple(out)
