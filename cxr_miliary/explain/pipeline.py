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
    """A map and where it lies.

    Attributes:
        cam: float32 H x W in [0, 1] on the absolute scale (shape x calibrated probability).
        lung_mask: bool H x W lung fields.
        distribution: Left/right and six-zone fractions, involved zones and ``pattern``.
        warnings: Things the user should know about the map.
    """

    cam: np.ndarray
    lung_mask: np.ndarray
    distribution: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def lung_fields(pixels: np.ndarray) -> LungFields:
    """The lung fields of a radiograph (display values, H x W in [0, 1])."""
    return find_lung_fields(pixels)


def explain(raw: np.ndarray, lungs: LungFields, *, input_size: int, probability: float, positive: bool) -> Explanation:
    """Turn a raw map at feature resolution into the user's map, mask and distribution.

    Args:
        raw: Non-negative map over the square network input (any resolution).
        lungs: :func:`lung_fields` of the same image.
        input_size: The network's input side (to undo its resize and padding).
        probability: Calibrated probability (the map's scale).
        positive: The decision (a negative's pattern is ``none``).
    """
    # The raw map is a few dozen cells: scale, restrict and summarise it on a working copy
    # of at most WORK pixels a side, then upsample the result once (at 2048 px the same
    # steps at full resolution cost 40 ms, the copy 3 ms; the upsampled map differs from a
    # full-resolution computation by interpolation rounding only).
    h, w = lungs.shape
    f = min(1.0, WORK / max(h, w))
    small = (max(1, round(h * f)), max(1, round(w * f)))
    small_mask = LungFields(lungs.small, small, lungs.source).full()
    found = bool(small_mask.any())
    cam_small = absolute_map(to_image(raw, input_size, small), probability, small_mask if found else None)
    dist = distribution(cam_small, small_mask, positive, sides=lungs.sides_at(small))
    cam = cam_small if small == (h, w) else cv2.resize(cam_small, (w, h), interpolation=cv2.INTER_LINEAR)
    return Explanation(np.clip(cam, 0.0, 1.0), lungs.full(), dist, [] if found else [NO_LUNGS_WARNING])
