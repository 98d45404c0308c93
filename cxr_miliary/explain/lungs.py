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

from .lung_rules import anatomical_limits, edge_map, fill_holes, largest_region, lateral_margin, no_lower

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


def whole_chest(sides: np.ndarray) -> bool:
    """Whether fields (a map over the film) were found and the film's top and bottom edges leave them whole (:data:`FILM_EDGE`)."""
    rows = np.flatnonzero(sides.any(axis=1))
    h = sides.shape[0]
    return bool(rows.size) and rows[0] >= FILM_EDGE * h and rows[-1] + 1 <= (1 - FILM_EDGE) * h


def views_for(sides: np.ndarray) -> tuple[float, ...]:
    """The extra views for fields the square alone gives (a map over the film): none without fields or when the film cuts them."""
    if not whole_chest(sides):
        return ()
    return ZOOMED_VIEWS if lung_extent(sides) >= ZOOM_FROM else ENLARGED_VIEWS


#: The refined probabilities count this much against the network's own (their average is what
#: the fields are drawn from). The refiner learned lungs from phantoms: on real films drawn
#: white it drew the fields a little worse than the network alone, on clear real films and on
#: phantoms better. Chosen on seeds 13001 and 13002 (above) from 0.3, 0.5, 0.7 and 1: the
#: largest weight at which no air-space condition drawn into the CR or RG1 lost more than 0.001
#: on average against the network alone (at 1: RG1 white-out -0.006, both lungs white -0.005);
#: every phantom condition within 0.003 of the best weight.
REFINER_WEIGHT = 0.5


@dataclass
class NetworkRead:
    """What the lung network says about one film, before the fields are cleaned.

    Attributes:
        square: The film letterboxed into the network's S x S input (display values).
        box: ``(top, left, rows, columns)`` of the film inside ``square``.
        whole: (3, S, S) class probabilities of the square alone.
        orientation: The orientation head's probabilities, or None.
        probs: (3, S, S) the probabilities the fields are drawn from: ``whole`` averaged with
            the extra views (:func:`views_for`), then averaged with the refiner's correction of
            that (:data:`REFINER_WEIGHT`) when the bundle has a refiner.
        own: The side map the square alone gives (cleaned; the sure share and the views read it).
        unrefined: (3, S, S) the probabilities before the refiner, or None when not refined.
    """

    square: np.ndarray
    box: tuple[int, int, int, int]
    whole: np.ndarray
    orientation: dict[str, float] | None
    probs: np.ndarray
    own: np.ndarray
    unrefined: np.ndarray | None = None

    @property
    def refined(self) -> bool:
        """Whether the bundle's shape refiner took part in ``probs``."""
        return self.unrefined is not None

    def crop(self, a: np.ndarray) -> np.ndarray:
        """The film's part of a map over the square (leading axes kept)."""
        top, left, nh, nw = self.box
        return a[..., top : top + nh, left : left + nw]


def letterbox(pixels: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The image shrunk (area-averaged) into a black S x S square, centred, and its ``(top, left, rows, columns)`` there."""
    h, w = pixels.shape
    f = size / max(h, w)
    nh, nw = max(1, round(h * f)), max(1, round(w * f))
    top, left = (size - nh) // 2, (size - nw) // 2
    square = np.zeros((size, size), dtype=np.float32)
    square[top : top + nh, left : left + nw] = cv2.resize(np.asarray(pixels, dtype=np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    return square, (top, left, nh, nw)


def read_network(pixels: np.ndarray, seg: Any, refine: bool = True) -> NetworkRead:
    """The lung network's probabilities for a film: the letterboxed square, its extra views, the shape refiner.

    The chest is segmented again on views that bring it nearer the size the model learned,
    and the probabilities averaged: zoomed out if it fills the frame (:data:`ZOOM_FROM`,
    :data:`ZOOMED_VIEWS`), enlarged if it does not (:data:`ENLARGED_VIEWS`); not when the
    film's top or bottom edge cuts its fields (:data:`FILM_EDGE`). A bundle with a shape
    refiner (:mod:`cxr_miliary.models.lung_refiner`) then corrects that average, on whole
    chests only (the same rule); the refiner is trained on exactly this read-out of
    phantoms (``refine=False`` gives it).
    """
    square, box = letterbox(pixels, seg.size)
    whole, orientation = seg.predict(square)
    film = (slice(box[0], box[0] + box[2]), slice(box[1], box[1] + box[3]))
    own = _clean_sides(whole[(slice(None), *film)], square[film])
    read = NetworkRead(square, box, whole, orientation, whole, own)
    views = views_for(own)
    if views:
        total, seen = seg.predict_views(square, views)
        read.probs = (whole + total) / (1 + seen)
    # the refiner learned whole chests: on a film that cuts the fields it pulled them off the
    # edge, as the views did, and the frontal-chest check then took halves of films for whole
    # ones (seed 18300: 15 of 20 halves caught against 19 without it)
    if refine and getattr(seg, "has_refiner", False) and whole_chest(own):  # test doubles and older bundles have none
        read.unrefined = read.probs
        read.probs = REFINER_WEIGHT * seg.refine(read.probs, square) + (1 - REFINER_WEIGHT) * read.probs
    return read


def learned_lung_fields(pixels: np.ndarray, seg: Any, refine: bool = True) -> LungFields:
    """Lung fields from a lung model: letterbox to its input, segment, crop back, keep the main region per side.

    The probabilities are :func:`read_network`'s (``refine=False``: without the bundle's
    shape refiner, as ``bench lungs`` shows beside it). The sure share (``confidence``),
    which the frontal-chest check reads, stays the square's own, on the fields it alone
    gives: every bar on it was chosen so.
    """
    read = read_network(pixels, seg, refine)
    work = read.crop(read.square)
    clean = read.own.copy()
    confidence = float((read.crop(read.whole).max(axis=0)[clean > 0] >= 0.9).mean()) if clean.any() else 0.0
    probs = read.crop(read.probs)
    if read.probs is not read.whole:
        clean = _clean_sides(probs, work)
    if read.unrefined is not None:
        clean = no_lower(clean, _clean_sides(read.crop(read.unrefined), work))
    if confidence < MIN_FIELD_CONFIDENCE:  # the model itself says these are not lungs
        clean[:], confidence = 0, 0.0
    # after the sure share, which is the network's own say on what it drew
    clean = lateral_margin(clean)
    card = getattr(seg, "card", None)  # test doubles carry no card
    bar = getattr(card, "unsure_lung_confidence", None)
    return LungFields(clean > 0, pixels.shape, "learned", clean, confidence, read.orientation, edge_map(probs[1] + probs[2], clean > 0), bar)


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
