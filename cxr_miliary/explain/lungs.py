"""Lung fields: the learned model when its bundle is there, the classical estimate otherwise.

The learned model (:mod:`cxr_miliary.models.lung_model`, bundle ``weights/lungs``) runs on
a 256-pixel letterboxed copy and also says which lung is which. ``CXR_MILIARY_LUNGS``
names another lung bundle, or ``classical`` to use the estimate below.

The classical estimate for PA radiographs: lungs are the two large dark regions inside
the body: find the body (brighter than the air around it, holes filled), ignore a band
along its edge (the chest wall, whose soft tissue can be as dark as lung), threshold at
Otsu's level of the central field, keep the two largest dark regions, fill holes and
smooth the outline. Tuned on phantoms; on real films it spills into the shoulders and
the lateral chest wall (docs/python-api.md), hence the learned model.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

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
        source: How the fields were found: ``"learned"`` (the lung model) or ``"classical"``.
        sides: The learned model's side map on ``small`` (1 image-left, 2 image-right lung).
        confidence: The learned model's certainty: the share of the fields' pixels it
            labels with >= 90 % probability (the frontal-chest check reads it).
        orientation: The learned model's orientation probabilities (``upright``,
            ``upside-down``, quarter turns), or None (classical, or a lung bundle without
            the orientation head).
        edge: The learned model's lung probability on ``small`` in 1/255 steps, kept on the
            right side of one half by ``small`` (see :func:`edge_map`), or None. The full mask
            follows it between working pixels instead of halfway: on films larger than the
            working copy the outline falls where the model puts it, not on a staircase.
        unsure_bar: The grey-zone bar the lung model's card sets for the frontal-chest check
            (``chest_check.unsure_lung_confidence``), or None (the check's default).
    """

    small: np.ndarray
    shape: tuple[int, int]
    source: str = "classical"
    sides: np.ndarray | None = None
    confidence: float | None = None
    orientation: dict[str, float] | None = None
    edge: np.ndarray | None = None
    unsure_bar: float | None = None

    def full(self) -> np.ndarray:
        """The mask at the image's resolution."""
        h, w = self.shape
        if not self.small.any():
            return np.zeros((h, w), dtype=bool)
        if self.edge is not None and self.edge.shape == self.small.shape:
            return cv2.resize(self.edge.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 127.5
        return cv2.resize(self.small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5

    def sides_at(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The side map resized to ``shape`` (None when the fields carry no sides)."""
        if self.sides is None:
            return None
        return cv2.resize(self.sides.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(np.int8)


def estimate_lung_mask(pixels: np.ndarray) -> np.ndarray:
    """Boolean lung-field mask at the image's resolution (empty if no lungs are found).

    Args:
        pixels: Display values, float H x W in [0, 1], 1 = white.
    """
    return find_lung_fields(pixels).full()


def find_lung_fields(pixels: np.ndarray) -> LungFields:
    """The lung fields of an image: the learned model's when available, else the classical estimate."""
    seg = default_segmenter()
    return learned_lung_fields(pixels, seg) if seg is not None else classical_lung_fields(pixels)


@functools.cache
def default_segmenter() -> Any:
    """The lung model to use (cached per process), or None for the classical estimate.

    ``$CXR_MILIARY_LUNGS`` names a lung bundle (or ``classical``); a name with no bundle
    behind it is a :class:`~cxr_miliary.models.BundleError`, never a silent fallback.
    Commands call this before reading any input, so a bad lung bundle is one clear
    error, not one error row per image.
    """
    choice = os.environ.get("CXR_MILIARY_LUNGS", "")
    if choice == "classical":
        return None
    from ..models.lung_segmenter import LungSegmenter

    if choice:
        from ..models import BundleError

        if not os.path.isfile(os.path.join(choice, "card.json")):
            raise BundleError(f"no lung bundle at {choice} (named by CXR_MILIARY_LUNGS; a lung bundle folder holds card.json)")
        return LungSegmenter(choice)
    try:
        from ..models.locate import find_default_bundle

        return LungSegmenter(find_default_bundle("lungs"))
    except FileNotFoundError:
        return None


#: The darker quarter of lung fields lies no more than this above the median of the ring
#: around them (display units), or they are no lung fields. The rule is against fields drawn
#: into an inverted film (bright "lungs" in a dark body, where the model is as sure as on a
#: film: 0.94-0.97); it is not "the lungs are darker than the chest wall": lungs white with
#: air-space disease (ARDS, bilateral pneumonia) and a florid pattern on top can be as bright
#: as the ring. Read on the working copy blurred over 2 pixels (noise has dark pixels
#: everywhere). Chosen on films with both lungs opacified and the pattern mix of
#: `cxr-miliary phantom` (seed 7001, 300 at 512 px: down to 0.028 above; the stage-4 training
#: films of seed 3200: 0.038 above) against inverted films (seeds 31 at 512 px and 41 at
#: 768 px, 40 each: 0.083 above or more; the lung model before gave the same within 0.001):
#: 0.06. It was "0.02 below" (chosen on lungs with no pattern), which dropped 1-4 % of those
#: white-lung films whole.
MAX_ABOVE_RING = 0.06
#: Fields the lung model is sure of (>= 90 %) on fewer than this share of their pixels are
#: no fields. Chosen on the lung model of December 2026: phantoms of every condition (seed
#: 7001, 20 each at 512 px) at least 0.91, the real CR film 0.94, a grey ramp 0.14; the
#: frontal-chest check's stricter bar (0.85) then refuses what lies between. Both lungs white
#: as rendered since December 2026, with the sixth lung model: down to 0.77 (seed 7001; the
#: eighth: 0.81; the tenth: 0.82, the other conditions 0.89), no field dropped on seeds 7001 or 7601.
MIN_FIELD_CONFIDENCE = 0.5
#: The midline air column (trachea, main bronchi) is no lung: nothing of a field within this
#: share of the width of the midline between the two fields, above the fields' upper third.
#: Lung apices lie 5-7.5 % of a film's width from the midline (2-3 cm of 40 cm), the
#: trachea's wall 2.5 %.
MIDLINE_HALF_WIDTH = 0.035
#: Nothing of a field lies lower than its lateral costophrenic angle by more than this share
#: of the height: below the domes is gas in the stomach and the colon, not lung.
BELOW_ANGLE = 0.02


#: Protrusions of a field thinner than twice this share of the working copy's side (a leak
#: into the axilla, round a gas bubble below the angle) do not widen the hull that
#: :func:`lateral_margin` fills to. Chosen on phantoms of seed 7001 (512 px, as framed and
#: framed tight, and 1,024 px) and the real CR with air-space disease drawn in (seed 8101):
#: the hull of the whole field (0) cost up to 0.0026 IoU on tight-framed phantoms and 0.02
#: on single films; 0.025 (6 working pixels) keeps every condition within -0.0012 and the
#: real CR's gain (+0.005 to +0.012); wider openings gave back the real CR's gain.
LATERAL_OPENING = 0.025
#: Views of a film the lung model also sees when the chest fills the frame: the letterboxed
#: square shrunk about its centre by these factors into a black frame; their probabilities
#: and the square's own are averaged. Real films are collimated tight to the chest; the lung
#: model, trained mostly on chests that fill less of the frame, draws their fields more truly
#: with more frame around them, and a little less truly on chests already framed loosely.
#: Chosen on seed 13001 (10 phantoms of every condition at 768 px framed tight; the real CR and
#: RG1 each clear and with every air-space condition drawn in 10 times), eleventh lung model,
#: against the square alone, (0.8), (0.9, 0.8, 0.7), (0.85, 0.7), (0.9, 0.8, 1.1) and shifted
#: views: phantoms -0.003 (an enlarged heart) to +0.010 (real outlines), RG1 clear 0.859 ->
#: 0.873, both lungs white 0.746 -> 0.823, the CR within +-0.005.
ZOOMED_VIEWS: tuple[float, ...] = (0.9, 0.8)
#: The zoomed views are added only for fields whose joint box spans at least this share of
#: the film's longer side (the square's own fields; :data:`ENLARGED_VIEWS` below it): phantoms
#: framed as they always were (57-76 %) lost 0.001-0.009 with them (seed 15901 at 1,024 px,
#: where the rule was found; chosen on seeds 13001 and 13002 from 0.70-0.80: 0.74).
ZOOM_FROM = 0.74
#: Fields that come within this share of the film's height of its top or bottom edge are cut
#: by the film (phantoms of every framing keep 9 % or more, 40 of seed 9300): the frontal-chest
#: check calls the film partial (its ``EDGE_MARGIN`` is this), and they get no views - the
#: zoomed views, which see a black frame there, pull the fields off the edge. Halves of films
#: stretched to full size (seed 16001 at 768 px): 3 of 80 passed as whole films with the
#: views, 1 without them and with this rule.
FILM_EDGE = 0.015
#: Views for a chest framed loosely (its fields under :data:`ZOOM_FROM`): the square's middle
#: enlarged by these factors (each sees the pixels within 1/z of the centre; the others get the
#: square's own probabilities and the other views'). The same reason the other way: the chest is
#: shown nearer the size the model learned. Chosen on seed 13002 (10 phantoms of every condition
#: at 1,024 px as framed) against (1.15), (1.1), (1.2, 1.3): white-out +0.009, both lungs
#: opacified +0.008, real outlines +0.011, low volumes +0.007, the rest -0.000 to +0.003;
#: (1.2, 1.3) cut an enlarged heart's worst film 0.953 -> 0.894. Real films, collimated tight,
#: seldom get these.
ENLARGED_VIEWS: tuple[float, ...] = (1.1, 1.2)


def largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of a bool mask (the first of equals; all False when it has none)."""
    labels, n = ndi.label(mask)
    if n < 2:
        return labels > 0
    return labels == int(np.argmax(np.bincount(labels.ravel())[1:])) + 1


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """A bool mask with its holes filled: what ``scipy.ndimage.binary_fill_holes`` gives, by one flood fill.

    The background is flooded from outside the mask, 4-connected as scipy's default; what it
    does not reach is a hole. scipy's iterated dilation took a quarter of the lung fields'
    time outside the network.
    """
    h, w = mask.shape
    outside = np.zeros((h + 2, w + 2), np.uint8)
    outside[1:-1, 1:-1] = mask
    cv2.floodFill(outside, None, (0, 0), 2, flags=4)
    return outside[1:-1, 1:-1] != 2


def anatomical_limits(sides: np.ndarray) -> np.ndarray:
    """Lung fields kept to where lungs are on a frontal film: out of the midline air column and off the gas below the domes.

    A segmentation network sees dark air as lung wherever it is; these are the two places
    where dark air touches a lung field on a PA film. Each removal keeps the largest piece
    of the field.
    """
    out = sides.copy()
    h, w = out.shape
    rows = np.flatnonzero((out > 0).any(axis=1))
    hilum = int(rows[0] + 0.45 * (rows[-1] - rows[0])) if rows.size else 0
    cols = {s: np.flatnonzero(out[hilum] == s) for s in (1, 2)}
    if rows.size and all(c.size for c in cols.values()):
        mid = (cols[1][-1] + cols[2][0]) / 2  # between the fields' medial edges at the level of the hila
        upper = rows[0] + (rows[-1] - rows[0]) / 3
        xs = np.arange(w)[None, :]
        ys = np.arange(h)[:, None]
        out[(np.abs(xs - mid) < MIDLINE_HALF_WIDTH * w) & (ys < upper)] = 0
    for s in (1, 2):
        field = out == s
        c = np.flatnonzero(field.any(axis=0))
        if c.size < 3:
            continue
        third = c[: max(1, c.size // 3)] if s == 1 else c[-max(1, c.size // 3) :]  # the lateral third
        angle = max(int(np.flatnonzero(field[:, k])[-1]) for k in third if field[:, k].any())
        field[angle + int(np.ceil(BELOW_ANGLE * h)) + 1 :] = False
        out[(out == s) & ~largest_region(field)] = 0
    return out


def lateral_margin(sides: np.ndarray) -> np.ndarray:
    """Each field filled out to the convex hull on its lateral side: the lateral lung margin follows the ribs.

    The lung's lateral margin is the inner margin of the rib cage, convex from apex to
    costophrenic angle; a dense consolidation or fluid against the chest wall hides it, and
    a network trained on phantoms then draws the field around the aerated lung only (a real
    CR with air-space disease drawn in: the field stopped short of the wall where the lung
    was white). Only pixels lateral to a field's own row-wise lateral edge are added, inside
    the convex hull of the field less its thin protrusions (:data:`LATERAL_OPENING`): the
    medial margin (heart, mediastinum), which is concave, and the domes stay as the network
    drew them. The field stays one region, no lower than before.
    """
    out = sides.copy()
    cols = np.arange(out.shape[1])[None, :]
    r = max(1, round(LATERAL_OPENING * max(out.shape)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    for s in (1, 2):
        field = out == s
        rows = field.any(axis=1)
        body = cv2.morphologyEx(field.astype(np.uint8), cv2.MORPH_OPEN, disc)
        if rows.sum() < 3 or not body.any():
            continue
        w = field.shape[1]
        ys = np.flatnonzero(body.any(axis=1))  # the hull of a region is the hull of each row's two ends
        ends = np.concatenate([np.stack([np.argmax(body[ys], axis=1), ys], 1), np.stack([w - 1 - np.argmax(body[ys, ::-1], axis=1), ys], 1)])
        hull = np.zeros(field.shape, np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(ends.astype(np.int32)), 1)
        if s == 1:  # image-left lung: lateral is towards column 0
            edge = np.where(rows, np.argmax(field, axis=1), 0)
            lateral, beside = cols < edge[:, None], np.maximum(edge - 1, 0)
        else:
            edge = np.where(rows, w - 1 - np.argmax(field[:, ::-1], axis=1), w - 1)
            lateral, beside = cols > edge[:, None], np.minimum(edge + 1, w - 1)
        # rows whose hull reaches the pixel beside the field's edge: the hull's row is one run,
        # so what is added there touches the field (no island from a row of the hull beside it)
        reach = rows & (beside != edge) & (hull[np.arange(len(edge)), beside] > 0)
        out[(hull > 0) & lateral & reach[:, None] & (out == 0)] = s
    return out


#: scipy.ndimage's default structuring element in 2-D (4-connected), for OpenCV.
CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def edge_map(lung_probability: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """uint8 lung probability that agrees with ``fields`` on every working pixel.

    Inside the fields at least 128, on the ring just outside them at most 127 (what the
    anatomical limits or the one-region rule removed counts as outside), 0 further out: so
    the outline that :meth:`LungFields.full` draws between working pixels never adds or
    drops a piece the rules decided, it only moves within one working pixel. Chosen on
    phantoms of seed 7001: IoU +0.001 to +0.003 in every condition and size.
    """
    q = np.rint(np.clip(lung_probability, 0.0, 1.0) * 255.0).astype(np.uint8)
    ring = cv2.dilate(fields.astype(np.uint8), CROSS).astype(bool) & ~fields
    out = np.zeros_like(q)
    out[fields] = np.maximum(q[fields], 128)
    out[ring] = np.minimum(q[ring], 127)
    return out


def _clean_sides(probs: np.ndarray, work: np.ndarray) -> np.ndarray:
    """The side map of class probabilities over the working copy ``work``, kept to one lung per side and the anatomy (see :func:`learned_lung_fields`)."""
    sides = np.argmax(probs, axis=0).astype(np.int8)
    clean = np.zeros_like(sides)
    for side in (1, 2):  # one lung per side: the largest region, holes filled
        clean[fill_holes(largest_region(sides == side)) & (clean == 0)] = side
    clean = anatomical_limits(clean)
    # A segmentation network draws lungs on anything, an inverted film too. Lungs hold air,
    # never much brighter than the tissue around them (a ring, not the whole image: air
    # outside a thin patient is darker still), however white with disease: fields whose darker
    # quarter is are no lung fields, and the frontal-chest check then says why.
    lungs = clean > 0
    reach = max(2, max(work.shape) // 32)
    ring = cv2.dilate(lungs.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))).astype(bool) & ~lungs
    # darkness over a few working pixels, not a pixel's: noise has dark pixels everywhere
    broad = cv2.GaussianBlur(work, (0, 0), 2.0)
    if lungs.any() and ring.any() and np.percentile(broad[lungs], 25) > np.median(broad[ring]) + MAX_ABOVE_RING:
        clean[:] = 0
    return clean


def lung_extent(sides: np.ndarray) -> float:
    """The fields' joint box's longer side as a share of the map's longer side (0 without fields)."""
    rows, cols = np.flatnonzero(sides.any(axis=1)), np.flatnonzero(sides.any(axis=0))
    if not rows.size:
        return 0.0
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / max(sides.shape)


def views_for(sides: np.ndarray) -> tuple[float, ...]:
    """The extra views for fields the square alone gives (a map over the film): none without fields or when the film cuts them."""
    rows = np.flatnonzero(sides.any(axis=1))
    h = sides.shape[0]
    if not rows.size or rows[0] < FILM_EDGE * h or rows[-1] + 1 > (1 - FILM_EDGE) * h:
        return ()
    return ZOOMED_VIEWS if lung_extent(sides) >= ZOOM_FROM else ENLARGED_VIEWS


def learned_lung_fields(pixels: np.ndarray, seg: Any) -> LungFields:
    """Lung fields from a lung model: letterbox to its input, segment, crop back, keep the main region per side.

    The chest is segmented again on views that bring it nearer the size the model learned,
    and the probabilities averaged: zoomed out if it fills the frame (:data:`ZOOM_FROM`,
    :data:`ZOOMED_VIEWS`), enlarged if it does not (:data:`ENLARGED_VIEWS`); not when the
    film's top or bottom edge cuts its fields (:data:`FILM_EDGE`). The sure share (``confidence``),
    which the frontal-chest check reads, stays the square's own, on the fields it alone
    gives: every bar on it was chosen so.
    """
    h, w = pixels.shape
    size = seg.size
    f = size / max(h, w)
    nh, nw = max(1, round(h * f)), max(1, round(w * f))
    top, left = (size - nh) // 2, (size - nw) // 2
    square = np.zeros((size, size), dtype=np.float32)
    square[top : top + nh, left : left + nw] = cv2.resize(np.asarray(pixels, dtype=np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    whole, orientation = seg.predict(square)
    crop = (slice(None), slice(top, top + nh), slice(left, left + nw))
    work = square[crop[1:]]
    probs = whole[crop]
    clean = _clean_sides(probs, work)
    confidence = float((probs.max(axis=0)[clean > 0] >= 0.9).mean()) if clean.any() else 0.0
    views = views_for(clean)
    if views:
        total, seen = seg.predict_views(square, views)
        probs = ((whole + total) / (1 + seen))[crop]
        clean = _clean_sides(probs, work)
    if confidence < MIN_FIELD_CONFIDENCE:  # the model itself says these are not lungs
        clean[:], confidence = 0, 0.0
    # after the sure share, which is the network's own say on what it drew
    clean = lateral_margin(clean)
    card = getattr(seg, "card", None)  # test doubles carry no card
    bar = getattr(card, "unsure_lung_confidence", None)
    return LungFields(clean > 0, (h, w), "learned", clean, confidence, orientation, edge_map(probs[1] + probs[2], clean > 0), bar)


def classical_lung_fields(pixels: np.ndarray) -> LungFields:
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
