"""Overlay rendering (separate from computation): the radiograph, the map, the lung outline."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont


def overlay(pixels: np.ndarray, cam: np.ndarray, lung_mask: np.ndarray | None = None, caption: str = "", max_side: int = 1024) -> np.ndarray:
    """RGB uint8 overlay: map on an absolute colour scale (0..1), lungs outlined, a caption.

    The colour scale is fixed (0 = transparent, 1 = full colour) so two overlays can be
    compared directly; nothing is min-max stretched per image.
    """
    h, w = pixels.shape
    f = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    grey = cv2.resize(pixels.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    heat = cv2.resize(cam.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    base = np.repeat((np.clip(grey, 0, 1) * 255)[..., None], 3, axis=2)
    colour = colormaps["inferno"](np.clip(heat, 0, 1))[..., :3] * 255
    alpha = np.clip(heat, 0, 1)[..., None] * 0.65
    out = (base * (1 - alpha) + colour * alpha).astype(np.uint8)
    if lung_mask is not None and lung_mask.any():
        small = cv2.resize(lung_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (0, 200, 255), max(1, round(2 * f * max(h, w) / 1024)))
    if caption:
        img = Image.fromarray(out)
        draw = ImageDraw.Draw(img)
        try:
            font = ImageFont.load_default(size=max(12, size[0] // 40))
        except TypeError:
            font = ImageFont.load_default()
        # wrapped, never cut: on a small film the disclaimer at the end must still show
        lines = _wrap(caption, lambda s: draw.textlength(s, font=font), size[0] - 12)
        step = max(14, round(getattr(font, "size", 11) * 1.25))
        draw.rectangle([0, 0, size[0], step * len(lines) + 4], fill=(0, 0, 0))
        for i, line in enumerate(lines):
            draw.text((6, 2 + i * step), line, fill=(255, 255, 255), font=font)
        out = np.asarray(img)
    return out


def _wrap(text: str, width_of: Callable[[str], float], width: float) -> list[str]:
    """Greedy word wrap to ``width`` (a single word longer than that keeps its own line)."""
    lines: list[str] = []
    for word in text.split():
        if lines and width_of(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines
