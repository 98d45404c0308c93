"""The lung region: the box around both lung fields plus a margin, and the view the network reads.

A bundle whose card says ``preprocess.region: lungs`` reads the box around both lung
fields (more of its input pixels on the lungs, where the pattern lives) instead of the
whole film; :func:`network_view` is the one place that cuts it, for training, ``predict``,
``score``, ``serve``, ``evaluate`` and the reference alike. Fields that are missing,
implausible, or on a film that only ``--force`` let through give no box: the view is then
the whole film and says it fell back (``lung-region-fallback``; the result is not
reliable, since the network never trained on whole films). ``cxr-miliary bench lungs
--conditions`` reports how much of the true lung the box keeps and what a millimetre
becomes at the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..transforms import REGION_MARGIN
from .lungs import LungFields

Box = tuple[int, int, int, int]

#: The lung box's margin (the reasons for 5 % are at :data:`cxr_miliary.transforms.REGION_MARGIN`).
MARGIN = REGION_MARGIN
#: A box narrower or lower than this share of the film is no pair of lungs (a field found
#: in one corner, a single lung): on frontal chest films the lungs span 55-90 % of the
#: width and 50-85 % of the height.
MIN_SPAN = 0.3


def lung_box(fields: LungFields, margin: float = MARGIN) -> Box | None:
    """``(x0, y0, x1, y1)`` around both lung fields plus ``margin``, in the film's pixels (x1, y1 exclusive).

    None when the fields cannot bound a crop: no fields, only one side (learned fields
    carry their side), or a box under :data:`MIN_SPAN` of the film either way.
    """
    small = fields.small
    if not small.any():
        return None
    if fields.sides is not None and not all((fields.sides == s).any() for s in (1, 2)):
        return None
    h, w = fields.shape
    sh, sw = small.shape
    rows, cols = np.flatnonzero(small.any(axis=1)), np.flatnonzero(small.any(axis=0))
    # the small mask's pixel k covers the film's [k * h / sh, (k + 1) * h / sh)
    y0, y1 = rows[0] * h / sh, (rows[-1] + 1) * h / sh
    x0, x1 = cols[0] * w / sw, (cols[-1] + 1) * w / sw
    if (y1 - y0) < MIN_SPAN * h or (x1 - x0) < MIN_SPAN * w:
        return None
    my, mx = margin * (y1 - y0), margin * (x1 - x0)
    return (max(0, int(np.floor(x0 - mx))), max(0, int(np.floor(y0 - my))), min(w, int(np.ceil(x1 + mx))), min(h, int(np.ceil(y1 + my))))


def kept_share(box: Box | None, truth: np.ndarray) -> float:
    """The share of the true lung (a mask at the film's size) inside ``box``; 1.0 for no box (the whole film is kept)."""
    t = np.asarray(truth) > 0
    if box is None or not t.any():
        return 1.0
    x0, y0, x1, y1 = box
    return float(t[y0:y1, x0:x1].sum() / t.sum())


def mm_per_input_pixel(box: Box | None, shape: tuple[int, int], input_size: int, film_mm: float = 430.0) -> float:
    """What one input pixel spans on a film whose long side is ``film_mm`` when ``box`` (None: the film) is resized to ``input_size``."""
    h, w = shape
    side = max(h, w) if box is None else max(box[2] - box[0], box[3] - box[1])
    return film_mm * side / max(h, w) / input_size


@dataclass
class View:
    """What the network reads of one film.

    Attributes:
        pixels: The display values it reads (the lung box cut out, or the whole film).
        box: ``(x0, y0, x1, y1)`` of those pixels in the film (the whole film when it reads the film).
        fallback: The bundle reads the lung region but the fields could not give one.
    """

    pixels: np.ndarray
    box: Box
    fallback: bool = False


def network_view(pixels: np.ndarray, fields: LungFields | None, region: str = "film", margin: float = MARGIN, usable: bool = True) -> View:
    """The pixels the network reads: the lung box for a ``lungs`` bundle, else (or when there is no box) the whole film.

    Args:
        pixels: The film's display values (H x W).
        fields: Its lung fields (None: none found).
        region: The bundle's ``preprocess.region``.
        margin: The bundle's ``preprocess.region_margin``.
        usable: False when the frontal-chest check refused the film and ``--force`` scored
            it: fields on such a film bound nothing, so it falls back.
    """
    h, w = pixels.shape[:2]
    whole = (0, 0, w, h)
    if region != "lungs":
        return View(pixels, whole)
    box = lung_box(fields, margin) if fields is not None and usable else None
    if box is None:
        return View(pixels, whole, fallback=True)
    x0, y0, x1, y1 = box
    return View(pixels[y0:y1, x0:x1], box)
