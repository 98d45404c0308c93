"""Air-space disease, fluid, lines and wires drawn into a real film whose lungs are outlined: white lungs on real anatomy.

The lung model must find the anatomical lung where consolidation, fluid or haze hides it,
and the films that test it (ARDS, white-out, large effusions, with outlines of the whole
lung) are rare. A real film with a lung outline (JSRT/SCR, Montgomery, Shenzhen, a hand
outline) has the anatomy that phantoms only approximate - the ribs, the domes, the heart,
the processing - and clear lungs. This draws the phantoms' own air-space disease
(:func:`cxr_miliary.phantom.conditions.airspace`: lobar consolidation, an effusion with a
meniscus, a white hemithorax, haze, opacities through both lungs) into it, or their lines
and wires (:func:`cxr_miliary.phantom.conditions.devices`); the outline stays the truth, as
the anatomical lung the phantoms keep as theirs.

How it enters a processed film: a lung whose air is displaced looks like the soft tissue
around it, so the film is pulled, by the share of the air displaced, towards what the
outlined lungs would look like filled with soft tissue: the film's own surroundings
(chest wall, mediastinum, domes and the abdomen below them) painted in over the lungs
(normalised convolution on a small copy, smoothed). That fill meets the chest wall, the heart and the
dome at their own grey level, so a white lung has no edge of its own where it meets them
(the silhouette sign), as on a real film. The film's fine structure inside the lung
(vessels, ribs, noise) is kept at half strength where the air is gone: vessels vanish in
water, ribs stay. The share is drawn on the outline widened by 1 % of the film's height,
so a hand outline drawn a little inside the pleura leaves no dark rim that would show
where the true edge is. Lines and wires enter as the pattern's lesions do
(:mod:`cxr_miliary.phantom.insertion`): through the local slope of the film's tone curve.

Used by ``cxr-miliary bench lungs --real FILM=MASK --opacities N`` (IoU on real anatomy
with white lungs) and by the lung model's data (``opacify``: real outlined films made
white during training).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from .conditions import AIRSPACE, FULL_AIR, airspace, devices
from .insertion import DISPLAY_PER_ATTENUATION, tone_slope

#: The conditions that can be drawn into a real film: the phantoms' air-space conditions, and
#: their lines and wires (``devices``: ECG leads, sternotomy wires, clips, a central line,
#: tubes - radiopaque, over the lungs and the mediastinum; they displace no air).
OPACITIES = (*AIRSPACE, "devices")
#: How much of the film's fine structure stays where the lung's air is wholly displaced.
DETAIL_KEPT = 0.5
#: The scale of that fine structure (Gaussian sigma, a share of the film's height).
DETAIL_SIGMA = 0.006
#: The most air a disease displaces, as a share: an effusion's fluid is thicker than the lung it
#: compresses (the phantoms draw it 1.06-1.4 times), but on a processed film the fill already
#: holds the chest wall's full thickness, so only a little whiter than it.
MAX_SHARE = 1.15
#: The small copy the soft-tissue fill is painted on (the fill is smooth: a copy saves time at 3,000 px).
FILL_SIDE = 256
#: The fill's Gaussian scales (shares of the copy's height), finest first.
FILL_SCALES = (0.03, 0.06, 0.12, 0.25)


@dataclass
class FilmLungs:
    """A real film's outlined lungs in the shape :func:`~cxr_miliary.phantom.conditions.airspace` draws on.

    Attributes:
        lung_side: int8 H x W, 1 image-left lung, 2 image-right lung.
        lung_mask: bool H x W, both lungs.
        hila: (row, col) of each hilum, image-left first (estimated from the outline).
        air: float32 H x W, a typical chest's air over the outline, widened and softened at its edge.
    """

    lung_side: np.ndarray
    lung_mask: np.ndarray
    hila: list[tuple[float, float]]
    air: np.ndarray


def film_lungs(lung_side: np.ndarray) -> FilmLungs:
    """The outline as :class:`FilmLungs`: hila on each lung's medial edge at 40 % of its height, air over the widened outline.

    Raises:
        ValueError: The outline does not hold two lungs (sides 1 and 2).
    """
    side = np.asarray(lung_side).astype(np.int8)
    if not ((side == 1).any() and (side == 2).any()):
        raise ValueError("the outline needs both lungs (side map with 1 = image-left, 2 = image-right)")
    h = side.shape[0]
    hila = []
    for s in (1, 2):
        rows = np.flatnonzero((side == s).any(axis=1))
        r = int(rows[0] + 0.4 * (rows[-1] - rows[0]))
        cols = np.flatnonzero(side[r] == s)
        hila.append((float(r), float(cols[-1] if s == 1 else cols[0])))
    grow = max(1, round(0.01 * h))
    wide = ndi.binary_dilation(side > 0, iterations=grow)
    air = cv2.GaussianBlur(wide.astype(np.float32), (0, 0), grow / 2) * FULL_AIR
    return FilmLungs(side, side > 0, hila, np.maximum(air, (side > 0) * FULL_AIR).astype(np.float32))


def soft_tissue_fill(pixels: np.ndarray, lungs: np.ndarray) -> np.ndarray:
    """What the film would look like with its lungs as dense as the soft tissue around them (H x W, smooth).

    The lungs (widened by 2 % of the height) are filled from their surroundings by
    normalised convolution on a copy of at most :data:`FILL_SIDE` pixels: each hole pixel
    the Gaussian-weighted mean of the film outside the hole, at the finest of
    :data:`FILL_SCALES` that reaches enough of it, so the fill is the wall's, the
    mediastinum's or the abdomen's level near each and blends smoothly between them.
    Outside the lungs it is the film's own smooth brightness. (Telea inpainting on a
    128-px copy left blotches in the fill that made white lungs easier to outline: white-out
    on the real CR 0.861 against 0.823 with a smooth fill.)
    """
    px = np.asarray(pixels, dtype=np.float32)
    h, w = px.shape
    scale = min(1.0, FILL_SIDE / max(h, w))
    sw, sh = max(8, round(w * scale)), max(8, round(h * scale))
    small = cv2.resize(px, (sw, sh), interpolation=cv2.INTER_AREA)
    hole = cv2.resize(lungs.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST)
    hole = ndi.binary_dilation(hole > 0, iterations=max(1, round(0.02 * sh)))
    base = cv2.GaussianBlur(small, (0, 0), max(1.0, 0.005 * sh))
    known = (~hole).astype(np.float32)
    painted = np.zeros_like(base)
    todo = hole.copy()
    for frac in FILL_SCALES:  # finest first: near the edge the nearest tissue decides
        sigma = max(1.0, frac * sh)
        weight = cv2.GaussianBlur(known, (0, 0), sigma)
        value = cv2.GaussianBlur(base * known, (0, 0), sigma) / np.maximum(weight, 1e-12)
        take = todo & (weight > 0.05)
        painted[take] = value[take]
        todo &= ~take
    if todo.any():  # a hole larger than the largest scale reaches: the film's mean outside it
        painted[todo] = float(base[~hole].mean()) if (~hole).any() else float(base.mean())
    painted = cv2.GaussianBlur(np.where(hole, painted, base), (0, 0), max(1.0, 0.02 * sh))
    small_fill = np.where(hole, painted, base)
    return cv2.resize(small_fill, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass
class Opacified:
    """A real film with air-space disease drawn in.

    Attributes:
        pixels: float32 display values in [0, 1].
        share: float32 H x W, the share of the air displaced (0 clear, 1 as dense as soft tissue).
        params: condition, mean share over the lungs, share of the lungs made white (> 0.8).
    """

    pixels: np.ndarray
    share: np.ndarray
    params: dict[str, object]


def opacify(pixels: np.ndarray, lung_side: np.ndarray, condition: str, rng: np.random.Generator, fill: np.ndarray | None = None) -> Opacified:
    """Draw ``condition`` (one of :data:`OPACITIES`) into a film (display values, [0, 1]) whose lungs ``lung_side`` outlines.

    ``devices`` adds lines and wires (``share`` stays zero: they displace no air).

    ``fill`` (:func:`soft_tissue_fill` of this film) may be passed to draw several
    conditions into one film without painting it again.

    Raises:
        ValueError: Unknown condition, a shape mismatch, or an outline without both lungs.
    """
    if condition not in OPACITIES:
        raise ValueError(f"condition must be one of {', '.join(OPACITIES)}")
    px = np.asarray(pixels, dtype=np.float32)
    if px.shape != np.shape(lung_side):
        raise ValueError(f"outline {np.shape(lung_side)} and film {px.shape} differ in shape")
    lungs = film_lungs(lung_side)
    if condition == "devices":
        return _with_devices(px, lungs, rng)
    share = np.clip(airspace(condition, lungs, rng) / FULL_AIR, 0.0, MAX_SHARE).astype(np.float32)
    fill = soft_tissue_fill(px, lungs.lung_mask) if fill is None else fill
    detail = px - cv2.GaussianBlur(px, (0, 0), max(1.0, DETAIL_SIGMA * px.shape[0]))
    # towards soft tissue by the share displaced (beyond 1: an effusion's fluid, a little
    # whiter than the wall, MAX_SHARE); the fine structure fades
    # with the air, to DETAIL_KEPT where none is left
    out = px + share * (fill - px) - np.minimum(share, 1.0) * (1.0 - DETAIL_KEPT) * detail
    inside = lungs.lung_mask
    params = {
        "condition": condition,
        "mean_share": round(float(share[inside].mean()), 4),
        "white_share": round(float((share[inside] > 0.8).mean()), 4),
    }
    return Opacified(np.clip(out, 0.0, 1.0).astype(np.float32), share, params)


def _with_devices(px: np.ndarray, lungs: FilmLungs, rng: np.random.Generator) -> Opacified:
    """The phantoms' lines and wires added as :func:`~cxr_miliary.phantom.insertion.insert_pattern` adds lesions.

    Through the local slope of the film's tone curve (``4 p (1 - p)`` of its smooth
    brightness) at the phantoms' display change per unit of attenuation: metal saturates
    white, a plastic tube is a faint stripe, dimmer over the bright mediastinum.
    """
    att, drawn = devices(lungs, rng, many=True)
    out = np.clip(px + DISPLAY_PER_ATTENUATION * tone_slope(px, 0.01 * px.shape[0]) * att, 0.0, 1.0).astype(np.float32)
    params = {"condition": "devices", "devices": ",".join(drawn), "mean_share": 0.0, "white_share": 0.0}
    return Opacified(out, np.zeros_like(px), params)
