"""The one way from (image, raw class-activation map) to what users see.

The lung fields, the map on an absolute scale at the image's resolution, and the
distribution over the six lung zones with its pattern. ``predict`` and ``score`` both call these two functions, so
they cannot disagree (a test holds them together).

Split in two because ``score`` finds the lung fields in its decode workers (beside the
model, on the image they already hold) and explains in the main process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .cam import absolute_map, to_image
from .distribution import distribution
from .lungs import LungFields, find_lung_fields

NO_LUNGS_WARNING = "lung fields not found; the map is not restricted to the lungs"
#: Side of the working copy the map is scaled, restricted and summarised on.
WORK = 512


@dataclass
class Explanation:
    """A map and where it lies, kept at the working resolution it was computed at.

    The map is computed on a copy of the image at most :data:`WORK` pixels a side (the
    network's own grid is coarser still); :meth:`cam_at` and :meth:`lung_mask_at` give it
    at any size (bilinear for the map, as every earlier version upsampled it), so an
    archive never holds full-resolution copies it does not need.

    Attributes:
        small: float32 map in [0, 1] on the absolute scale (shape x calibrated
            probability), at the working resolution (the image's aspect, not letterboxed).
        small_mask: bool lung fields at the same resolution.
        shape: (rows, columns) of the image it belongs to.
        distribution: Left/right and six-zone fractions, involved zones and ``pattern``.
        warnings: Things the user should know about the map.
        lungs: The lung fields it was restricted to.
    """

    small: np.ndarray
    small_mask: np.ndarray
    shape: tuple[int, int]
    distribution: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    lungs: LungFields | None = None

    def cam_at(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The map at ``shape`` (default: the image's), float32 in [0, 1]."""
        return resize_map(self.small, shape or self.shape)

    def lung_mask_at(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The lung fields at ``shape`` (default: the image's)."""
        h, w = shape or self.shape
        if self.lungs is not None and (h, w) == tuple(self.lungs.shape):
            return self.lungs.full()
        return cv2.resize(self.small_mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5

    @property
    def cam(self) -> np.ndarray:
        """The map at the image's resolution (the first API's attribute)."""
        return self.cam_at()

    @property
    def lung_mask(self) -> np.ndarray:
        """The lung fields at the image's resolution (the first API's attribute)."""
        return self.lung_mask_at()


def resize_map(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A working-resolution map at ``shape``: bilinear, clipped to [0, 1] (the one way maps are enlarged)."""
    h, w = shape
    out = small if small.shape == (h, w) else cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def lung_fields(pixels: np.ndarray) -> LungFields:
    """The lung fields of a radiograph (display values, H x W in [0, 1])."""
    return find_lung_fields(pixels)


def explain(
    raw: np.ndarray, lungs: LungFields, *, input_size: int, probability: float, positive: bool, region: tuple[int, int, int, int] | None = None
) -> Explanation:
    """Turn a raw map at feature resolution into the user's map, mask and distribution.

    Args:
        raw: Non-negative map over the square network input (any resolution).
        lungs: :func:`lung_fields` of the same image.
        input_size: The network's input side (to undo its resize and padding).
        probability: Calibrated probability (the map's scale).
        positive: The decision (a negative's pattern is ``none``).
        region: ``(x0, y0, x1, y1)`` in the film's pixels: what the network read (None: the whole film).
    """
    # The raw map is a few dozen cells: scale, restrict and summarise it on a working copy
    # of at most WORK pixels a side; callers enlarge the result only where they need it
    # (at 2048 px the same steps at full resolution cost 40 ms, the copy 3 ms; the
    # enlarged map differs from a full-resolution computation by interpolation rounding only).
    h, w = lungs.shape
    f = min(1.0, WORK / max(h, w))
    small = (max(1, round(h * f)), max(1, round(w * f)))
    small_mask = LungFields(lungs.small, small, lungs.source, edge=lungs.edge).full()
    found = bool(small_mask.any())
    box = None if region is None else _scaled(region, (h, w), small)
    cam_small = absolute_map(to_image(raw, input_size, small, box), probability, small_mask if found else None)
    dist = distribution(cam_small, small_mask, positive, sides=lungs.sides_at(small))
    return Explanation(np.clip(cam_small, 0.0, 1.0), small_mask, (h, w), dist, [] if found else [NO_LUNGS_WARNING], lungs)


def _scaled(box: tuple[int, int, int, int], shape: tuple[int, int], to: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box in ``shape``'s pixels in ``to``'s pixels (outward, so a region's edge pixels stay in it)."""
    fy, fx = to[0] / shape[0], to[1] / shape[1]
    x0, y0, x1, y1 = box
    return (
        max(0, int(np.floor(x0 * fx))),
        max(0, int(np.floor(y0 * fy))),
        min(to[1], int(np.ceil(x1 * fx))),
        min(to[0], int(np.ceil(y1 * fy))),
    )
