"""Overlay rendering (separate from computation): the radiograph, the map, the lung outline."""

from __future__ import annotations

import functools
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


@functools.lru_cache(maxsize=1)
def _colour_table() -> np.ndarray:
    """The inferno colour scale as a 256-entry table (256 x 1 x 3 uint8, for ``cv2.LUT``).

    A lookup instead of evaluating the colormap on every pixel (a million float64 RGBA
    values per overlay). matplotlib is imported here, when an overlay is first drawn: a
    ``predict`` without one never pays for it (cold start).
    """
    from matplotlib import colormaps

    return np.round(colormaps["inferno"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8).reshape(256, 1, 3)


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: one bitmap size
        return ImageFont.load_default()


def overlay(pixels: np.ndarray, cam: np.ndarray, lung_mask: np.ndarray | None = None, caption: str = "", max_side: int = 1024) -> np.ndarray:
    """RGB uint8 overlay: map on an absolute colour scale (0..1), lungs outlined, a caption.

    The colour scale is fixed (0 = transparent, 1 = full colour) so two overlays can be
    compared directly; nothing is min-max stretched per image.
    """
    h, w = pixels.shape
    f = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    grey = cv2.resize(pixels.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    heat = np.clip(cv2.resize(cam.astype(np.float32), size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    # OpenCV's per-pixel operations on uint8: the overlay is drawn once per film in
    # score --cam-dir, where numpy's float temporaries cost as much as the forward pass
    base = cv2.cvtColor((np.clip(grey, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    index = cv2.cvtColor((heat * 255 + 0.5).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    colour = cv2.LUT(index, _colour_table())  # 256 levels: steps of 0.4 %, below what an eye sees
    alpha = heat * np.float32(0.65)
    out = cv2.blendLinear(base, colour, 1.0 - alpha, alpha)
    if lung_mask is not None and lung_mask.any():
        small = cv2.resize(lung_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (0, 200, 255), max(1, round(2 * f * max(h, w) / 1024)))
    if caption:
        font = _font(max(12, size[0] // 40))
        # wrapped, never cut: on a small film the disclaimer at the end must still show
        lines = _wrap(caption, font.getlength, size[0] - 12)
        step = max(14, round(getattr(font, "size", 11) * 1.25))
        # drawn on a black band of its own, then laid over the top rows (not the whole
        # overlay through PIL and back: that copy was a third of the overlay's time)
        rows = min(size[1], step * len(lines) + 5)
        band = Image.new("RGB", (size[0], rows), (0, 0, 0))
        draw = ImageDraw.Draw(band)
        for i, line in enumerate(lines):
            draw.text((6, 2 + i * step), line, fill=(255, 255, 255), font=font)
        out[:rows] = np.asarray(band)
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
