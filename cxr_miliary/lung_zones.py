"""The six lung zones (upper/middle/lower x right/left), shared by phantoms and explanations.

Sides are the patient's: on a PA radiograph the patient's right lung is on the image's
left. Zones are thirds of each lung's own height, the convention radiologists use.
"""

from __future__ import annotations

import numpy as np

ZONE_NAMES = ("right-upper", "right-middle", "right-lower", "left-upper", "left-middle", "left-lower")


def zone_map(side_map: np.ndarray) -> np.ndarray:
    """Zones 0..5 (as :data:`ZONE_NAMES`, -1 outside) by thirds of each lung's height.

    Args:
        side_map: 1 for the image-left lung (patient's right on a PA film), 2 for the
            image-right lung, 0 elsewhere.

    Returns:
        int8 array of zone indices.
    """
    zones = np.full(side_map.shape, -1, dtype=np.int8)
    rows = np.arange(side_map.shape[0])[:, None]
    for side, offset in ((1, 0), (2, 3)):
        inside = side_map == side
        if not inside.any():
            continue
        r = np.flatnonzero(inside.any(axis=1))
        top, bottom = r[0], r[-1] + 1
        third = np.clip((rows - top) * 3 // max(bottom - top, 1), 0, 2)
        zones = np.where(inside, (third + offset).astype(np.int8), zones)
    return zones


def sides_from_mask(lung_mask: np.ndarray) -> np.ndarray:
    """Split a two-lung mask into sides by the image midline of the lungs' extent."""
    side = np.zeros(lung_mask.shape, dtype=np.int8)
    cols = np.flatnonzero(lung_mask.any(axis=0))
    if cols.size == 0:
        return side
    # the mediastinum lies between the lungs: split at the emptiest column of the middle half
    lo, hi = cols[0], cols[-1]
    q1, q3 = lo + (hi - lo) // 4, lo + 3 * (hi - lo) // 4
    counts = lung_mask[:, q1 : q3 + 1].sum(axis=0)
    mid = q1 + int(np.argmin(counts)) if counts.size else (lo + hi) // 2
    xs = np.arange(lung_mask.shape[1])[None, :]
    side[lung_mask & (xs < mid)] = 1
    side[lung_mask & (xs >= mid)] = 2
    return side
