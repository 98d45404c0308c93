"""A contact sheet of insertions: each source film beside its insertion, at 1:1 crops.

The pattern is a few pixels per nodule; shrunk to a thumbnail it vanishes, so the sheet
shows crops at the film's own pixel scale (one film pixel = one sheet pixel), from the
part of the lung with the most inserted lesion, with the whole film reduced beside them
for orientation. Written by ``cxr-miliary insert --sheet PNG``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import load_image

#: Side of each crop in film pixels (1:1): a 2,048-px film at 0.17 mm shows 4.4 cm of lung.
CROP = 256


def _crop_centre(lesion: np.ndarray) -> tuple[int, int]:
    """Centre of the CROP x CROP window holding the most lesion (a coarse search: 64-px steps)."""
    import cv2

    h, w = lesion.shape
    density = cv2.boxFilter(lesion.astype(np.float32), -1, (CROP, CROP), normalize=False, borderType=cv2.BORDER_CONSTANT)
    half = CROP // 2
    grid = density[half : max(half + 1, h - half) : 64, half : max(half + 1, w - half) : 64]
    r, c = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return half + 64 * int(r), half + 64 * int(c)


def _window(pixels: np.ndarray, centre: tuple[int, int]) -> np.ndarray:
    h, w = pixels.shape
    r0 = int(np.clip(centre[0] - CROP // 2, 0, max(0, h - CROP)))
    c0 = int(np.clip(centre[1] - CROP // 2, 0, max(0, w - CROP)))
    return pixels[r0 : r0 + CROP, c0 : c0 + CROP]


def contact_sheet(out_dir: str | os.PathLike[str], sheet: str | os.PathLike[str], max_films: int = 4) -> Path:
    """Write a PNG: per inserted film, the whole film, the source crop and the inserted crop (1:1).

    Args:
        out_dir: An ``insert`` output folder (its ``manifest.csv`` and masks are read).
        sheet: Where to write the PNG.
        max_films: How many insertions to show (the first in the manifest).

    Returns:
        The sheet's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    rows = pd.read_csv(out_dir / "manifest.csv").head(max_films)
    if rows.empty:
        raise ValueError(f"{out_dir / 'manifest.csv'}: no insertions to show")
    pad, title = 8, 22  # pixels; every axes is placed in pixels so a crop is exactly CROP x CROP
    width, height = 3 * CROP + 4 * pad, len(rows) * (CROP + title + pad) + pad
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)

    def axes(row: int, col: int):  # noqa: ANN202 - a matplotlib Axes
        left = pad + col * (CROP + pad)
        top = pad + row * (CROP + title + pad) + title
        return fig.add_axes((left / width, 1 - (top + CROP) / height, CROP / width, CROP / height))

    for i, (_, r) in enumerate(rows.iterrows()):
        before = load_image(r["source_path"], force=True).pixels
        after = load_image(out_dir / r["path"], force=True).pixels
        lesion = load_image(out_dir / r["lesion_mask"], force=True).pixels > 0
        cy, cx = _crop_centre(lesion)
        whole = axes(i, 0)
        whole.imshow(before, cmap="gray", vmin=0, vmax=1)
        whole.add_patch(plt.Rectangle((cx - CROP / 2, cy - CROP / 2), CROP, CROP, fill=False, ec="yellow", lw=1))
        whole.set_title(f"{Path(str(r['source_path'])).name[:30]} ({before.shape[1]}x{before.shape[0]})", fontsize=7)
        detail = f"{r['pattern']} {r['difficulty']}, {r['nodule_size_mm']:.1f} mm, {int(r['nodule_count'])} nodules"
        for col, px, what in ((1, before, "source, 1:1"), (2, after, f"inserted, 1:1: {detail}")):
            ax = axes(i, col)
            ax.imshow(_window(px, (cy, cx)), cmap="gray", vmin=0, vmax=1, interpolation="none")
            ax.set_title(what, fontsize=7)
        for ax in fig.axes[-3:]:
            ax.axis("off")
    sheet = Path(sheet)
    sheet.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(sheet, dpi=100)
    plt.close(fig)
    return sheet
