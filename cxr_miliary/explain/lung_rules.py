"""The anatomy's rules on a lung side map (0 background, 1 image-left, 2 image-right lung).

What a segmentation network cannot be trusted to know about lungs on a frontal film, kept
apart from how the network is run (:mod:`cxr_miliary.explain.lungs`): one region per side
with no holes, nothing in the midline air column or in the gas below the domes, a lateral
margin that follows the ribs, an outline that agrees with the fields between working pixels,
and a shape refiner that does not reach below the network's own bases.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

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


#: A refined field reaches no lower than this share of the height below the network's own
#: field of that side, column by column (:func:`no_lower`). Chosen on seeds 13001 (10 phantoms
#: of every condition at 768 px framed tight; the CR and RG1 each clear and with every air-space
#: condition drawn 5 times) and 13002 (1,024 px as framed), against no rule, the side's lowest
#: row (+0, +0.02, +0.05) and column by column +0 and +0.05: RG1 with both lungs white 0.755
#: without the rule, 0.820 with it (the network alone 0.825), phantoms within -0.002 of no rule.
REFINED_BELOW = 0.02


def no_lower(refined: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Refined fields kept above the network's own: the refiner learned the shape of lungs, not where the gas below them is.

    On real films with both lungs white the refiner pulled a field below the lost dome into
    the gas of the stomach and colon, which the network alone had left out. Each refined
    field keeps what lies no lower than :data:`REFINED_BELOW` of the height below the
    network's field of that side, column by column (in a column where the network drew
    nothing of that side, below its lowest row); the largest piece stays.
    """
    out = refined.copy()
    h = out.shape[0]
    margin = int(np.ceil(REFINED_BELOW * h))
    for s in (1, 2):
        mine = own == s
        if not mine.any():
            continue
        lowest = int(np.flatnonzero(mine.any(axis=1))[-1])
        bottom = np.where(mine.any(axis=0), h - 1 - np.argmax(mine[::-1], axis=0), lowest)
        field = (out == s) & (np.arange(h)[:, None] <= bottom[None, :] + margin)
        out[(out == s) & ~largest_region(field)] = 0
    return out
