"""From attenuation to a processed detector image: exposure, heel effect, scatter, noise, log, CR/DX processing, bit depth."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


@dataclass
class Acquired:
    """The detector image: display values in [0, 1] and the stored integers."""

    display: np.ndarray  # float32 in [0, 1], 1 = white
    stored: np.ndarray  # uint16, 0 .. 2**bits - 1, MONOCHROME2 sense
    bits: int
    params: dict[str, float]


def gaussian(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (OpenCV: several times faster than scipy at these sizes; deterministic)."""
    return cv2.GaussianBlur(np.ascontiguousarray(img, dtype=np.float32), (0, 0), max(float(sigma), 0.1), borderType=cv2.BORDER_REFLECT)


def smooth(img: np.ndarray, sigma: float, factor: int | None = None) -> np.ndarray:
    """A wide Gaussian blur, computed on a copy ``factor`` times smaller (the result is smooth at that scale).

    ``factor`` defaults to 8, more on detector-sized images (the copy stays about 256-512 px).
    """
    h, w = img.shape
    factor = factor or max(8, min(h, w) // 256)
    small = cv2.resize(np.ascontiguousarray(img, dtype=np.float32), (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(gaussian(small, max(sigma / factor, 0.5)), (w, h), interpolation=cv2.INTER_LINEAR)


#: The pixel size the acquisition's constants were written for (a 1,024-px film of 35.8 cm).
REFERENCE_SPACING_MM = 0.35


def acquire(attenuation: np.ndarray, rng: np.random.Generator, markers: bool | None = None, spacing_mm: float | None = None) -> Acquired:
    """Simulate the exposure of ``attenuation`` on a digital detector, processed as CR/DX vendors do.

    Physics: focal-spot/detector blur, an anode heel effect (the beam is a few percent
    stronger towards the cathode), scatter (a broad blur of the primary, scaled by a
    scatter-to-primary ratio: grids remove most of it), quantum noise with the detector's
    correlation (its noise power falls at high frequencies) plus electronic noise, and the
    log transform. Processing: multi-frequency equalisation (the large-scale component,
    lungs against abdomen, is compressed), unsharp-mask edge enhancement at a millimetre
    scale, and a sigmoid display curve. The same nodule is therefore less conspicuous
    behind the heart and the domes (fewer photons, more scatter, a flatter tone curve) than
    over the open lung, as on a real film.

    Physical quantities are in millimetres and photons per mm², so a film rendered at a
    detector's own pixel size (0.1-0.2 mm) carries the blur, the noise per area and the
    edge enhancement a real detector's image does; its noise is correlated over about a
    detector pixel, whatever the size.

    Args:
        attenuation: float32 HxW, higher = denser.
        rng: Random generator for every acquisition and processing parameter.
        markers: Burn in "R"/"L" text markers; random when None.
        spacing_mm: Pixel size; default: the image covers the field a 1,024-px film of
            :data:`REFERENCE_SPACING_MM` does.

    Returns:
        The :class:`Acquired` image.
    """
    h, w = attenuation.shape
    scale = h / 1024.0  # anatomy-sized lengths follow the image (the anatomy fills it)
    spacing = float(spacing_mm) if spacing_mm else REFERENCE_SPACING_MM / scale
    per_mm = 1.0 / spacing  # pixels per millimetre: detector-sized lengths
    blur = rng.uniform(0.5, 1.3) * REFERENCE_SPACING_MM * per_mm  # 0.18-0.46 mm
    A = gaussian(attenuation, blur)  # focal spot and detector MTF
    A = A - A.min()
    mu = rng.uniform(3.0, 4.5)
    photons = rng.uniform(3000.0, 20000.0) * (spacing / REFERENCE_SPACING_MM) ** 2  # per pixel through air; larger pixels collect more
    heel = rng.uniform(-0.12, 0.12)
    beam = photons * (1.0 + heel * (np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]))
    primary = beam * np.exp(-mu * A)
    spr = rng.uniform(0.15, 0.8)  # scatter-to-primary ratio (with / without a grid)
    scatter = spr * smooth(primary, 60.0 * scale)
    expected = primary + scatter
    white = rng.standard_normal(A.shape, dtype=np.float32)
    corr = gaussian(white, 0.6)  # the detector's correlated noise
    corr *= 1.0 / (corr.std() + 1e-8)
    electronic = rng.uniform(1.0, 4.0)
    noisy = expected + np.sqrt(expected) * corr + electronic * rng.standard_normal(A.shape, dtype=np.float32)
    L = -np.log(np.clip(noisy, 1.0, None) / photons) / mu  # log-processed detector signal

    # multi-frequency processing: equalise the large scales, enhance the small ones
    edge_sigma = rng.uniform(1.5, 3.0) * REFERENCE_SPACING_MM * per_mm  # 0.5-1 mm
    k_edge = rng.uniform(0.3, 1.2)
    k_eq = rng.uniform(0.3, 0.8)
    low = smooth(L, 50.0 * scale)
    L = L + k_edge * (L - gaussian(L, edge_sigma)) - k_eq * (low - float(low.mean()))

    # collimation: shuttered borders receive no dose and show white
    coll = np.zeros(A.shape, dtype=bool)
    if rng.random() < 0.5:
        m = (rng.uniform(0, 0.05, 4) * np.array([h, h, w, w])).astype(int)
        coll[: m[0]] = True
        coll[h - m[1] :] = True
        coll[:, : m[2]] = True
        coll[:, w - m[3] :] = True

    exposed = L[~coll] if (~coll).any() else L
    lo, hi = np.percentile(exposed[:: max(1, exposed.size // 200_000)], [rng.uniform(0.2, 2.0), rng.uniform(99.0, 99.9)])
    z = np.clip((L - lo) / max(hi - lo, 1e-6), 0, 1)
    gain, centre = rng.uniform(3.0, 7.0), rng.uniform(0.42, 0.6)  # the vendor's sigmoid tone curve
    lo_s, hi_s = 1 / (1 + np.exp(gain * centre)), 1 / (1 + np.exp(-gain * (1 - centre)))
    display = ((1 / (1 + np.exp(-gain * (z - centre)))) - lo_s) / (hi_s - lo_s)
    display[coll] = rng.uniform(0.9, 1.0)
    if markers if markers is not None else rng.random() < 0.6:
        display = _markers(display, rng, scale)
    bits = int(rng.choice([10, 12, 12, 14, 16]))
    top = 2**bits - 1
    stored = np.round(np.clip(display, 0, 1) * top).astype(np.uint16)
    params = {
        "blur_px": round(float(blur), 3),
        "photons": round(float(photons), 1),
        "scatter_to_primary": round(float(spr), 3),
        "heel": round(float(heel), 3),
        "edge_gain": round(float(k_edge), 3),
        "equalisation": round(float(k_eq), 3),
        "tone_gain": round(float(gain), 3),
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
