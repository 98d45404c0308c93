"""The review page's pictures: a small thumbnail and a film view per row, written next to the page.

The overlay ``score --cam-dir`` wrote is shown as it is (by a relative path); the film
under it is decoded again from the row's path (DICOM included, as ``score`` read it) and
written as a JPEG at most :data:`FILM_PX` on its long side, so the map can be switched
off. Pixels only: no header, so no identifier, leaves a DICOM here (text burned into
the pixels by the modality is the one thing no reader can take out).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

#: Long side of a thumbnail (pixels).
THUMB_PX = 96
#: Long side of the film view (pixels).
FILM_PX = 1024


def overlay_file(row: dict[str, Any], cam_dir: str | Path | None) -> Path | None:
    """The overlay a row names: as written, else by its name in ``cam_dir`` (a moved folder); None when neither exists."""
    written = str(row.get("ov") or "")
    if not written:
        return None
    if os.path.isfile(written):
        return Path(written)
    if cam_dir is not None and (Path(cam_dir) / Path(written).name).is_file():
        return Path(cam_dir) / Path(written).name
    return None


def _save(img: Any, px: int, path: Path) -> None:
    img.thumbnail((px, px))
    img.convert("RGB").save(path, "JPEG", quality=85)


def make_images(job: tuple[int, str, str | None, str]) -> tuple[int, bool, bool]:
    """One row's pictures: ``(row, film path, overlay or None, folder)`` -> (row, thumbnail written, film written).

    A film that cannot be decoded (the row's error says why) gets no film view; a row
    without an overlay gets its thumbnail from the film.
    """
    from PIL import Image

    i, film, overlay, folder = job
    out = Path(folder)
    film_ok = thumb_ok = False
    try:
        from ..io import load_image

        pixels = np.clip(load_image(film).pixels, 0.0, 1.0)
        img = Image.fromarray((pixels * 255).astype(np.uint8))
        _save(img.copy(), FILM_PX, out / f"f{i}.jpg")
        film_ok = True
        if overlay is None:
            _save(img, THUMB_PX, out / f"t{i}.jpg")
            thumb_ok = True
    except Exception:  # an undecodable film: the row already says why
        pass
    if overlay is not None:
        try:
            with Image.open(overlay) as ov:
                _save(ov.copy(), THUMB_PX, out / f"t{i}.jpg")
            thumb_ok = True
        except Exception:
            pass
    return i, thumb_ok, film_ok


def write_images(rows: list[dict[str, Any]], page: Path, cam_dir: str | Path | None, *, workers: int = 1, progress: bool = False) -> Path:
    """Thumbnails and film views for every row with a readable film, in ``<page stem>_files/``; sets each row's picture paths.

    Paths on the page are relative to it, so the page and its folder move together.
    """
    from ..workers import run_jobs

    folder = page.parent / f"{page.stem}_files"
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for r in rows:
        ov = overlay_file(r, cam_dir)
        r["ov"] = quote(os.path.relpath(ov, page.parent).replace(os.sep, "/")) if ov is not None else ""  # a URL: "#" or "%" in a folder name
        film = r.get("_film")
        if film or ov is not None:
            jobs.append((r["i"], str(film or ""), str(ov) if ov is not None else None, str(folder)))
    by_index = {r["i"]: r for r in rows}
    for i, thumb, film in run_jobs(make_images, jobs, workers=workers, desc="review images", progress=progress):
        rel = quote(os.path.relpath(folder, page.parent).replace(os.sep, "/"))
        by_index[i]["t"] = f"{rel}/t{i}.jpg" if thumb else ""
        by_index[i]["f"] = f"{rel}/f{i}.jpg" if film else ""
    return folder
