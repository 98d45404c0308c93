"""A classical lung-field estimate for PA radiographs (no second network to ship).

Lungs are the two large dark regions inside the body: find the body (brighter than the
air around it, holes filled), ignore a band along its edge (the chest wall, whose soft
tissue can be as dark as lung), threshold at Otsu's level of the central field, keep
the two largest dark regions, fill holes and smooth the outline. Works on a 256-pixel
copy for speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

WORK = 256


def otsu_threshold(values: np.ndarray, bins: int = 128) -> float:
    """Otsu's threshold of ``values`` (float array in [0, 1])."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers) / np.maximum(w0, 1e-12)
    m1 = (np.sum(hist * centers) - np.cumsum(hist * centers)) / np.maximum(w1, 1e-12)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centers[int(np.argmax(between))])


@dataclass
class LungFields:
    """Lung fields found on a small working copy of an image.

    Attributes:
        small: bool mask at the working resolution (a few hundred pixels a side; cheap to
            pass between processes).
        shape: (rows, columns) of the image it belongs to.
        source: How the fields were found (``"classical"``).
    """

    small: np.ndarray
    shape: tuple[int, int]
    source: str = "classical"

    def full(self) -> np.ndarray:
        """The mask at the image's resolution."""
        h, w = self.shape
        if not self.small.any():
            return np.zeros((h, w), dtype=bool)
        return cv2.resize(self.small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5


def estimate_lung_mask(pixels: np.ndarray) -> np.ndarray:
    """Boolean lung-field mask at the image's resolution (empty if no lungs are found).

    Args:
        pixels: Display values, float H x W in [0, 1], 1 = white.
    """
    return find_lung_fields(pixels).full()


def find_lung_fields(pixels: np.ndarray) -> LungFields:
    """The classical estimate, kept at its working resolution (see :class:`LungFields`)."""
    h, w = pixels.shape
    f = WORK / max(h, w)
    small = cv2.resize(pixels.astype(np.float32), (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 2.0)
    sh, sw = small.shape
    t = otsu_threshold(small[sh // 6 : sh * 5 // 6, sw // 8 : sw * 7 // 8])
    # air around the patient (direct exposure) is the darkest region touching the image's
    # frame: its border, or a bright collimator band along the border. Lungs never touch
    # the frame, however dark the exposure leaves them. A band next to that air (the
    # chest wall) and along the border is excluded from the search.
    edge = np.zeros_like(small, dtype=bool)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    bright_lab, _ = ndi.label(small > 0.85)
    frame = edge | np.isin(bright_lab, np.unique(bright_lab[edge & (bright_lab > 0)]))
    air_lab, _ = ndi.label(small < 0.35 * t)
    touching = np.unique(air_lab[ndi.binary_dilation(frame, iterations=2) & (air_lab > 0)])
    outside = np.isin(air_lab, touching)
    margin = max(2, round(0.03 * max(sh, sw)))
    inner = ~ndi.binary_dilation(outside, iterations=margin)
    inner[:margin], inner[-margin:], inner[:, :margin], inner[:, -margin:] = False, False, False, False
    dark = small < t
    body = ~outside
    cand = ndi.binary_opening(dark & inner, iterations=2)
    labels, n = ndi.label(cand)
    if n == 0:
        return LungFields(np.zeros((sh, sw), dtype=bool), (h, w))
    sizes = ndi.sum(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    centres = ndi.center_of_mass(cand, labels, range(1, n + 1))
    # lungs lie left and right of the midline, not in a strip along the image's edge
    plausible = [k for k in np.argsort(sizes)[::-1] if sizes[k] >= 0.01 * sh * sw and 0.12 * sw < centres[k][1] < 0.88 * sw]
    keep = [k + 1 for k in plausible[:2]]
    mask = ndi.binary_dilation(np.isin(labels, keep), iterations=2) & dark & body
    mask = ndi.binary_fill_holes(ndi.binary_closing(mask, iterations=3))
    return LungFields(mask, (h, w))
