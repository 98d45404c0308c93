"""Bronchovascular markings: trees branching and tapering from each hilum."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw


def render_vessels(
    size: int,
    hila: list[tuple[float, float]],
    lung_mask: np.ndarray,
    rng: np.random.Generator,
    prominence: float = 1.0,
) -> np.ndarray:
    """Draw branching vessel trees that taper towards the periphery.

    Args:
        size: Image side in pixels.
        hila: (row, col) of the two hila, image-left first.
        lung_mask: Vessels are only visible inside the lungs.
        rng: Random generator.
        prominence: 1 for normal markings; >1 for prominent (engorged) vessels, a
            negative confounder.

    Returns:
        float32 HxW attenuation to add.
    """
    canvas = Image.new("F", (size, size), 0.0)
    draw = ImageDraw.Draw(canvas)
    scale = size / 1024.0
    for (hr, hc), side in zip(hila, (-1.0, 1.0), strict=False):
        n_trunks = int(rng.integers(5, 8))
        # fan of directions pointing away from the midline: up-out, out, down-out, down
        angles = np.linspace(-2.2, 1.9, n_trunks) + rng.normal(0, 0.12, n_trunks)
        for a in angles:
            direction = np.array([np.sin(a) * 1.0, np.cos(a) * side])  # (drow, dcol)
            length = rng.uniform(70, 120) * scale * (1.0 + 0.15 * (prominence - 1))
            width = rng.uniform(7, 10) * scale * prominence**0.7
            _branch(draw, np.array([hr, hc]), direction, length, width, 0, rng, scale, prominence)
    vessels = np.asarray(canvas, dtype=np.float32)
    vessels = cv2.GaussianBlur(np.ascontiguousarray(vessels, dtype=np.float32), (0, 0), 1.2 * scale, borderType=cv2.BORDER_REFLECT)
    return vessels * lung_mask


def _branch(
    draw: ImageDraw.ImageDraw,
    start: np.ndarray,
    direction: np.ndarray,
    length: float,
    width: float,
    depth: int,
    rng: np.random.Generator,
    scale: float,
    prominence: float,
) -> None:
    max_depth = 5 if prominence <= 1.3 else 6
    if depth > max_depth or width < 0.8 * scale or length < 4 * scale:
        return
    steps = 3
    pos = start.astype(float)
    d = direction / math.hypot(direction[0], direction[1])
    density = 0.045 * prominence * (width / (8 * scale)) ** 0.6
    for _ in range(steps):
        d = d + rng.normal(0, 0.12, 2)
        d /= math.hypot(d[0], d[1])
        nxt = pos + d * length / steps
        draw.line([(pos[1], pos[0]), (nxt[1], nxt[0])], fill=float(density), width=max(1, int(round(width))))
        pos = nxt
    n_children = 2 if rng.random() < 0.9 else 3
    for k in range(n_children):
        turn = rng.uniform(0.25, 0.6) * (1 if k % 2 == 0 else -1)
        c, s = np.cos(turn), np.sin(turn)
        child = np.array([d[0] * c - d[1] * s, d[0] * s + d[1] * c])
        _branch(draw, pos, child, length * rng.uniform(0.68, 0.82), width * rng.uniform(0.62, 0.75), depth + 1, rng, scale, prominence)
