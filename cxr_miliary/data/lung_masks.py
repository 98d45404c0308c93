"""Lung-field training data: the public lung-mask sets read in their published layouts, and phantoms.

Every source becomes one manifest (``path, mask_image_left, mask_image_right, mask, split,
patient_id, source``) whose masks say which lung is which on the *image* (the patient's
right lung is on the image's left of a PA film):

- **JSRT + SCR**: JSRT's ``*.IMG`` files (2048 x 2048, 12-bit big-endian raw, no header)
  and the SCR masks ``scr/masks/{left lung,right lung}/<name>.gif`` (1024 x 1024). SCR's
  "left lung" is the patient's left, the image's right.
- **Montgomery County**: ``CXR_png/MCUCXR_*.png`` with ``ManualMask/leftMask`` and
  ``ManualMask/rightMask`` (the patient's left and right lungs).
- **Shenzhen**: ``CXR_png/CHNCXR_*.png`` with one combined mask per image as published
  with the set's lung masks (``<masks>/CHNCXR_*_mask.png``); the sides are its two largest
  regions, split by their centres.
- **Phantoms**: ``cxr-miliary phantom`` writes lung masks with 128 for the image-left lung
  and 255 for the image-right lung.
- **Negatives**: drawings with no lung in them (``source`` ``negative``, no mask), so the
  model learns that two dark shapes are not lungs.

JSRT's raw files store brighter-is-darker or the reverse depending on who exported them;
the reader decides per image from the masks (the lungs are the darker side of a radiograph).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .splits import assign_splits

COLUMNS = ["path", "mask_image_left", "mask_image_right", "mask", "split", "patient_id", "source"]
JSRT_SIDE = 2048


def _finish(rows: list[dict[str, object]], out: str | os.PathLike[str], ratios: tuple[float, float, float], seed: int) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    df["label"] = 0  # assign_splits stratifies by label; every row is a lung-mask row
    df["split"] = assign_splits(df, ratios, seed)
    df = df[COLUMNS]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df


def jsrt_manifest(
    images: str | os.PathLike[str],
    scr: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> pd.DataFrame:
    """JSRT ``.IMG`` files with SCR's masks (images without both lung masks are left out)."""
    images, scr = Path(images), Path(scr)
    masks = scr / "masks" if (scr / "masks").is_dir() else scr
    rows = []
    for img in sorted(images.glob("*.IMG")) + sorted(images.glob("*.img")):
        left, right = masks / "left lung" / f"{img.stem}.gif", masks / "right lung" / f"{img.stem}.gif"
        if left.is_file() and right.is_file():
            # SCR "right lung" = the patient's right = the image's left
            rows.append({"path": str(img), "mask_image_left": str(right), "mask_image_right": str(left), "patient_id": img.stem, "source": "jsrt"})
    return _finish(rows, out, ratios, seed)


def montgomery_manifest(
    root: str | os.PathLike[str], out: str | os.PathLike[str], *, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> pd.DataFrame:
    """Montgomery County: ``CXR_png`` with ``ManualMask/leftMask`` and ``rightMask``."""
    root = Path(root)
    rows = []
    for img in sorted((root / "CXR_png").glob("*.png")):
        left, right = root / "ManualMask" / "leftMask" / img.name, root / "ManualMask" / "rightMask" / img.name
        if left.is_file() and right.is_file():
            rows.append(
                {
                    "path": str(img),
                    "mask_image_left": str(right),
                    "mask_image_right": str(left),
                    "patient_id": img.stem.rsplit("_", 1)[0],
                    "source": "montgomery",
                }
            )
    return _finish(rows, out, ratios, seed)


def shenzhen_manifest(
    root: str | os.PathLike[str],
    masks: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> pd.DataFrame:
    """Shenzhen: ``CXR_png`` with the published combined masks ``<masks>/<name>_mask.png``."""
    root, masks = Path(root), Path(masks)
    rows = []
    for img in sorted((root / "CXR_png").glob("*.png")):
        mask = masks / f"{img.stem}_mask.png"
        if mask.is_file():
            rows.append({"path": str(img), "mask": str(mask), "patient_id": img.stem.rsplit("_", 1)[0], "source": "shenzhen"})
    return _finish(rows, out, ratios, seed)


def phantom_lung_manifest(
    phantom_manifest: str | os.PathLike[str], out: str | os.PathLike[str], *, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> pd.DataFrame:
    """Phantoms (``cxr-miliary phantom``): their side-coded lung masks."""
    root = Path(phantom_manifest).parent
    df = pd.read_csv(phantom_manifest)
    rows = [
        {"path": str(root / p), "mask": str(root / m), "patient_id": str(pid), "source": "phantom"}
        for p, m, pid in zip(df["path"], df["lung_mask"], df["patient_id"], strict=True)
    ]
    return _finish(rows, out, ratios, seed)


def negative_lung_manifest(
    n: int, out: str | os.PathLike[str], *, size: int = 512, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> pd.DataFrame:
    """Pictures with no lung in them (:mod:`~cxr_miliary.phantom.negatives`), written beside ``out``: rows with an empty mask."""
    from ..phantom.negatives import write_negatives

    rows = write_negatives(n, Path(out).with_suffix(""), seed=seed, size=size)
    return _finish(rows, out, ratios, seed)


def is_negative(row: dict[str, object]) -> bool:
    """Whether a manifest row is a picture with no lung (:mod:`~cxr_miliary.phantom.negatives`)."""
    from ..phantom.negatives import SOURCE

    return str(row.get("source")) == SOURCE


def read_jsrt(path: str | os.PathLike[str]) -> np.ndarray:
    """A JSRT ``.IMG`` file as float32 [0, 1] (its polarity decided later, against the masks)."""
    raw = np.fromfile(path, dtype=">u2")
    if raw.size != JSRT_SIDE * JSRT_SIDE:
        raise ValueError(f"{path}: {raw.size} values; a JSRT image has {JSRT_SIDE} x {JSRT_SIDE}")
    return (raw.reshape(JSRT_SIDE, JSRT_SIDE).astype(np.float32) / 4095.0).clip(0, 1)


def _mask(path: str, shape: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as im:
        m = np.asarray(im.convert("L"))
    if m.shape != shape:
        m = np.asarray(Image.fromarray(m).resize((shape[1], shape[0]), Image.NEAREST))
    return m


def read_sample(row: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
    """(pixels float32 [0, 1] with 1 = white, int64 target 0/1/2) for one manifest row."""
    from scipy import ndimage as ndi

    from ..io import load_image

    path = str(row["path"])
    pixels = read_jsrt(path) if path.lower().endswith(".img") else load_image(path, force=True).pixels
    shape = pixels.shape
    target = np.zeros(shape, dtype=np.int64)
    if is_negative(row):  # a picture with no lung: every pixel background
        pass
    elif str(row.get("mask_image_left") or "") not in ("", "nan"):
        target[_mask(str(row["mask_image_left"]), shape) > 0] = 1
        target[_mask(str(row["mask_image_right"]), shape) > 0] = 2
    else:
        m = _mask(str(row["mask"]), shape)
        if ((m > 0) & (m < 200)).any():  # side-coded (phantoms): 128 image-left, 255 image-right
            target[(m > 0) & (m < 200)] = 1
            target[m >= 200] = 2
        else:  # one combined mask: the two largest regions, by their centres
            labels, n = ndi.label(m > 0)
            if n:
                sizes = ndi.sum(np.ones_like(labels), labels, index=np.arange(1, n + 1))
                keep = np.argsort(sizes)[::-1][:2] + 1
                centres = ndi.center_of_mass(m > 0, labels, keep)
                for k, (_, cx) in zip(keep, centres, strict=True):
                    target[labels == k] = 1 if cx < shape[1] / 2 else 2
    if path.lower().endswith(".img") and (target > 0).any():
        inside, body = pixels[target > 0].mean(), pixels[(target == 0)].mean()
        if inside > body:  # lungs must be the darker side of a radiograph
            pixels = 1.0 - pixels
    return pixels, target
