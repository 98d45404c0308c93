"""Images that are not (whole, upright) frontal chest films, made here: drawings, an abdomen, a film inside a photograph, parts and turns of films."""

from __future__ import annotations

import cv2
import numpy as np

from cxr_miliary.phantom import render_phantom
from cxr_miliary.phantom.acquisition import acquire


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
    """A frontal abdominal film (KUB): a body thickest in the middle, the lumbar spine, the iliac wings, bowel gas in loops and pockets; no lung.

    Built from its own parts, not from the chest phantom with its lungs filled in: that left
    the lungs' outlines and ribs on the film, a chest with both lungs white - which a chest
    film with bilateral opacities is, and must not be refused as.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    cx, half = 0.5 + rng.uniform(-0.03, 0.03), rng.uniform(0.36, 0.46)
    u = ((xx - cx) / half).clip(-1, 1)
    A = np.where(np.abs(xx - cx) < half, 0.2 + 0.7 * np.sqrt(1 - u**2), 0.0).astype(np.float32)
    liver = ((xx > cx - half) & (xx < cx - 0.05) & (yy < 0.35 - 0.3 * (xx - cx + half))).astype(np.float32)
    A += 0.08 * cv2.GaussianBlur(liver, (0, 0), size / 30)  # the liver, in the right (image-left) upper quadrant
    period = rng.uniform(0.06, 0.08)  # vertebral bodies and their discs
    A += 0.15 * (np.abs(xx - cx) < 0.045) * (0.75 + 0.25 * (np.cos(2 * np.pi * yy / period) > -0.6))
    canvas = np.zeros((size, size), np.uint8)
    for side in (-1, 1):  # the iliac wings
        centre = (int((cx + side * 0.19) * size), int(rng.uniform(0.92, 1.02) * size))
        cv2.ellipse(canvas, centre, (int(0.16 * size), int(0.12 * size)), 0, 180, 360, 255, max(2, size // 40))
    A += 0.12 * canvas.astype(np.float32) / 255
    gas = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(4, 10))):  # loops of bowel
        pts = ((rng.uniform(0.2, 0.8, 2) + rng.normal(0, 0.07, (int(rng.integers(3, 6)), 2)).cumsum(0)).clip(0.1, 0.9) * size).astype(np.int32)
        cv2.polylines(gas, [pts], False, 255, max(2, int(size * rng.uniform(0.02, 0.05))))
    for _ in range(int(rng.integers(3, 9))):  # and pockets
        cv2.circle(gas, (int(rng.uniform(0.2, 0.8) * size), int(rng.uniform(0.2, 0.9) * size)), int(size * rng.uniform(0.015, 0.05)), 255, -1)
    A -= rng.uniform(0.2, 0.35) * cv2.GaussianBlur(gas.astype(np.float32) / 255, (0, 0), 1.5)
    return acquire(cv2.GaussianBlur(A, (0, 0), 2), rng, markers=False).display


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
