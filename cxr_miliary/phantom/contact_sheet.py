"""A contact sheet with an example of every pattern and difficulty, for human review."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .generator import DIFFICULTIES, NEGATIVE_PATTERNS, POSITIVE_PATTERNS, render_phantom


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def contact_sheet(path: str | os.PathLike[str], *, seed: int = 0, size: int = 1024, tile: int = 384) -> Path:
    """Render one row per positive pattern and difficulty, then one row of confounders.

    Each cell shows the whole image at ``tile`` px and, beside it, a 1:1 crop of the
    image-left mid-lung enlarged (where the millet-seed texture should show).

    Args:
        path: Output PNG.
        seed: Seed of the examples.
        size: Size at which the examples are rendered.
        tile: Displayed size of each example.

    Returns:
        The written path.
    """
    cells: list[tuple[str, np.ndarray]] = []
    for pattern in POSITIVE_PATTERNS:
        for diff in DIFFICULTIES:
            cells.append((f"{pattern} / {diff}", render_phantom(seed, len(cells), size, pattern=pattern, difficulty=diff).display))
    for pattern in NEGATIVE_PATTERNS:
        cells.append((f"{pattern} (label 0)", render_phantom(seed, len(cells), size, pattern=pattern, difficulty="florid").display))
    cols = 3
    cell_w, cell_h = tile * 2 + 10, tile + 30
    rows = (len(cells) + cols - 1) // cols
    sheet = Image.new("L", (cols * cell_w, rows * cell_h), 20)
    draw = ImageDraw.Draw(sheet)
    font = _font(20)
    for k, (title, img) in enumerate(cells):
        x0, y0 = (k % cols) * cell_w, (k // cols) * cell_h
        u8 = (np.clip(img, 0, 1) * 255).astype(np.uint8)
        sheet.paste(Image.fromarray(u8).resize((tile, tile), Image.LANCZOS), (x0, y0 + 26))
        h = img.shape[0]
        side = h // 4  # a quarter of the image, from the image-left mid lung, shown enlarged
        r0, c0 = int(0.36 * h), int(0.14 * h)
        crop = Image.fromarray(u8[r0 : r0 + side, c0 : c0 + side]).resize((tile, tile), Image.LANCZOS)
        sheet.paste(crop, (x0 + tile + 6, y0 + 26))
        draw.text((x0 + 4, y0 + 2), title, fill=255, font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
