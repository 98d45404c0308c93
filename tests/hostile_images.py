"""Images that are not (whole, upright) frontal chest films, made here: drawings, an abdomen, a film inside a photograph, parts and turns of films."""

from __future__ import annotations

import cv2
import numpy as np

from cxr_miliary.phantom import render_phantom
from cxr_miliary.phantom.acquisition import acquire
from cxr_miliary.phantom.anatomy import render_anatomy


def two_ellipses(size: int = 512, seed: int = 0) -> np.ndarray:
    """Two dark ellipses on a lighter ground, blurred and noisy (a drawing of lungs)."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size), rng.uniform(0.6, 0.85), np.float32)
    for cx in (0.3, 0.7):
        cv2.ellipse(img, (int(cx * size), int(0.45 * size)), (int(0.14 * size), int(0.3 * size)), 0, 0, 360, float(rng.uniform(0.15, 0.35)), -1)
    img = cv2.GaussianBlur(img, (0, 0), size / 200) + rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def lung_mask_drawing(size: int = 512, seed: int = 0) -> np.ndarray:
    """A phantom's lung mask drawn dark on light (the masks of a segmentation data set, inverted)."""
    ph = render_phantom(seed, 0, size=size, pattern="normal")
    img = np.where(ph.lung_mask, 0.25, 0.8).astype(np.float32)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 2.0) + np.random.default_rng(seed).normal(0, 0.01, img.shape).astype(np.float32), 0, 1)


def abdomen(size: int = 512, seed: int = 0) -> np.ndarray:
    """A phantom body with no lungs: soft tissue, spine, and loops of bowel gas through it."""
    rng = np.random.default_rng(seed)
    anat = render_anatomy(size, rng)
    A = anat.attenuation.copy()
    A[anat.lung_mask] = np.median(A[~anat.lung_mask])  # no aerated lung at all
    yy, xx = np.mgrid[:size, :size] / size
    for _ in range(int(rng.integers(6, 14))):
        cy, cx, r = rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.8), rng.uniform(0.03, 0.08)
        A -= 0.25 * (((yy - cy) ** 2 + (xx - cx) ** 2) < r**2)
    return acquire(cv2.GaussianBlur(A.astype(np.float32), (0, 0), 2), rng, markers=False).display


def film_in_a_photograph(size: int = 768, seed: int = 0) -> np.ndarray:
    """A chest film held up inside a larger photograph of a room (a phone picture of a film)."""
    rng = np.random.default_rng(seed)
    room = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 25)
    room = (room - room.min()) / (np.ptp(room) + 1e-6) * 0.6 + 0.2
    film = render_phantom(seed, 1, size=size // 2, pattern="normal").display
    top, left = int(rng.integers(0, size // 3)), int(rng.integers(0, size // 3))
    room[top : top + size // 2, left : left + size // 2] = film
    return room.astype(np.float32)


def halves(px: np.ndarray) -> list[np.ndarray]:
    """The upper and the lower half of a film, each stretched back to the film's size."""
    h, w = px.shape
    return [cv2.resize(px[: h // 2], (w, h)), cv2.resize(px[h // 2 :], (w, h))]


def turns(px: np.ndarray) -> dict[str, np.ndarray]:
    """A film upside down (mirrored), rotated 180 degrees, and rotated 90 degrees either way."""
    return {
        "upside-down": np.ascontiguousarray(px[::-1]),
        "rotated-180": np.ascontiguousarray(px[::-1, ::-1]),
        "rotated-90": np.ascontiguousarray(np.rot90(px)),
        "rotated-270": np.ascontiguousarray(np.rot90(px, 3)),
    }
