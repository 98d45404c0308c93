"""From attenuation to a detector image: exposure, blur, quantum noise, contrast, bit depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import gaussian_filter


@dataclass
class Acquired:
    """The detector image: display values in [0, 1] and the stored integers."""

    display: np.ndarray  # float32 in [0, 1], 1 = white
    stored: np.ndarray  # uint16, 0 .. 2**bits - 1, MONOCHROME2 sense
    bits: int
    params: dict[str, float]


def acquire(attenuation: np.ndarray, rng: np.random.Generator, markers: bool | None = None) -> Acquired:
    """Simulate the exposure of ``attenuation`` on a digital detector.

    Args:
        attenuation: float32 HxW, higher = denser.
        rng: Random generator for exposure, blur, noise, contrast, bit depth, collimation.
        markers: Burn in "R"/"L" text markers; random when None.

    Returns:
        The :class:`Acquired` image.
    """
    h, w = attenuation.shape
    scale = h / 1024.0
    blur = rng.uniform(0.5, 1.3) * scale
    A = gaussian_filter(attenuation, blur)  # detector MTF
    mu = rng.uniform(3.0, 4.5)
    photons = rng.uniform(3000.0, 20000.0)  # photons per pixel through air, at 1024 px
    photons *= (1024.0 / h) ** 2  # larger pixels collect more photons
    expected = photons * np.exp(-mu * (A - A.min()))
    noisy = expected + np.sqrt(expected) * rng.standard_normal(A.shape).astype(np.float32)
    A_det = -np.log(np.clip(noisy, 1.0, None) / photons) / mu  # log-processed detector signal

    # collimation: shuttered borders receive no dose and show white
    coll = np.zeros(A.shape, dtype=bool)
    if rng.random() < 0.5:
        m = (rng.uniform(0, 0.05, 4) * np.array([h, h, w, w])).astype(int)
        coll[: m[0]] = True
        coll[h - m[1] :] = True
        coll[:, : m[2]] = True
        coll[:, w - m[3] :] = True

    exposed = A_det[~coll] if (~coll).any() else A_det
    lo, hi = np.percentile(exposed[:: max(1, exposed.size // 200_000)], [rng.uniform(0.2, 2.0), rng.uniform(99.0, 99.9)])
    gamma = rng.uniform(0.8, 1.25)
    display = np.clip((A_det - lo) / max(hi - lo, 1e-6), 0, 1) ** gamma
    display[coll] = rng.uniform(0.9, 1.0)
    if markers if markers is not None else rng.random() < 0.6:
        display = _markers(display, rng, scale)
    bits = int(rng.choice([10, 12, 12, 14, 16]))
    top = 2**bits - 1
    stored = np.round(display * top).astype(np.uint16)
    params = {
        "blur_px": round(float(blur), 3),
        "photons": round(float(photons), 1),
        "gamma": round(float(gamma), 3),
        "bits": bits,
        "collimated": bool(coll.any()),
    }
    return Acquired((stored / top).astype(np.float32), stored, bits, params)


def _markers(display: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Burn in a side marker and a short technologist label, as on real films."""
    h, w = display.shape
    img = Image.fromarray(np.zeros((h, w), dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    size = max(8, int(40 * scale))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    draw.text((int(0.06 * w), int(0.04 * h)), "R", fill=255, font=font)
    if rng.random() < 0.5:
        draw.text((int(0.70 * w), int(0.04 * h)), rng.choice(["PA", "ERECT", "PORTABLE"]), fill=255, font=font)
    text = np.asarray(img, dtype=np.float32) / 255.0
    return np.maximum(display, text)
