"""Lesions and confounders, drawn into the attenuation map with their ground-truth masks.

Positives (label 1): diffuse miliary nodules; reticulonodular network with tiny nodules.
Confounders (label 0): large masses, focal consolidation, nodules clustered in one zone
or one lung, pleural effusion, prominent vessels, textured noise. Together they make
"has texture" or "has round blobs" useless as a shortcut for the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..lung_zones import ZONE_NAMES
from .acquisition import gaussian, smooth

#: Difficulty tiers for nodular patterns: nodules per 100 cm² of lung, diameter (mm),
#: peak attenuation of a 2 mm nodule. "subtle" is the early miliary disease that the
#: clinical reference warns is hard to see on a radiograph.
TIERS: dict[str, dict[str, tuple[float, float]]] = {
    "florid": {"density": (1000.0, 2200.0), "diameter": (1.8, 3.0), "contrast": (0.040, 0.060)},
    "moderate": {"density": (500.0, 1100.0), "diameter": (1.4, 2.4), "contrast": (0.026, 0.040)},
    "subtle": {"density": (250.0, 600.0), "diameter": (1.0, 2.0), "contrast": (0.020, 0.030)},
}


@dataclass
class Lesion:
    """What was drawn: attenuation to add, ground-truth mask, analysis parameters."""

    attenuation: np.ndarray
    mask: np.ndarray
    params: dict[str, object] = field(default_factory=dict)


def _sphere_kernel(radius: float) -> np.ndarray:
    """Projected thickness of a sphere: sqrt(1 - r²/R²), normalised to peak 1."""
    half = int(np.ceil(radius)) + 1
    ax = np.arange(-half, half + 1, dtype=np.float32)
    r2 = (ax[:, None] ** 2 + ax[None, :] ** 2) / max(radius, 0.5) ** 2
    return np.sqrt(np.clip(1.0 - r2, 0.0, None)).astype(np.float32)


def stamp_nodules(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, radii: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Add sphere-profile nodules at the given centres (vectorised by size class)."""
    out = np.zeros(shape[0] * shape[1], dtype=np.float64)
    classes = np.round(radii * 2) / 2  # half-pixel size classes
    for rad in np.unique(classes):
        sel = classes == rad
        k = _sphere_kernel(float(rad))
        half = k.shape[0] // 2
        dy, dx = np.nonzero(k > 0)
        w = k[dy, dx]
        rr = rows[sel, None] + dy[None, :] - half
        cc = cols[sel, None] + dx[None, :] - half
        ok = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
        vals = peaks[sel, None] * w[None, :]
        # bincount sums overlapping nodules as np.add.at does, many times faster on the
        # millions of kernel pixels a detector-sized florid film has
        out += np.bincount((rr * shape[1] + cc)[ok], weights=vals[ok], minlength=out.size)
    return out.reshape(shape).astype(np.float32)


def _sample(region: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n uniformly random pixel positions inside ``region`` (with replacement)."""
    idx = np.flatnonzero(region)
    if idx.size == 0 or n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pick = idx[rng.integers(0, idx.size, n)]
    return pick // region.shape[1], pick % region.shape[1]


def nodules(
    region: np.ndarray,
    spacing_mm: float,
    tier: str,
    rng: np.random.Generator,
    density_scale: float = 1.0,
) -> Lesion:
    """Uniform, random, uniform-sized tiny nodules filling ``region``.

    Args:
        region: Where nodules may fall (both lungs for miliary; one zone/lung for the
            clustered confounders). Uniform density includes the subpleural margins.
        spacing_mm: Pixel spacing.
        tier: ``"florid"``, ``"moderate"`` or ``"subtle"``.
        rng: Random generator.
        density_scale: Multiplier on the tier's density.
    """
    t = TIERS[tier]
    area_cm2 = region.sum() * spacing_mm**2 / 100.0
    n = int(rng.uniform(*t["density"]) * density_scale * area_cm2 / 100.0)
    diameter = rng.uniform(*t["diameter"])
    contrast = rng.uniform(*t["contrast"])
    r, c = _sample(region, n, rng)
    radii = np.clip(diameter / 2 / spacing_mm * rng.uniform(0.85, 1.15, r.size), 0.5, None)
    # thicker (larger) nodules attenuate more; the contrast is quoted for 2 mm
    peaks = (contrast * (radii * 2 * spacing_mm / 2.0) * rng.uniform(0.85, 1.15, r.size)).astype(np.float32)
    att = stamp_nodules(region.shape, r, c, radii, peaks)
    return Lesion(
        att, att > 0.25 * contrast, {"nodule_count": int(r.size), "nodule_size_mm": round(float(diameter), 3), "contrast": round(float(contrast), 4)}
    )


def reticulonodular(lungs: np.ndarray, spacing_mm: float, tier: str, rng: np.random.Generator) -> Lesion:
    """A fine reticular network over both lungs with superimposed tiny nodules."""
    h, w = lungs.shape
    cell_mm = rng.uniform(3.0, 6.0)
    # band-passed white noise; its zero crossings form a polygonal net
    small = rng.standard_normal((h // 2, w // 2)).astype(np.float32)
    sigma = cell_mm / spacing_mm / 2 / 2.2
    band = gaussian(small, sigma) - gaussian(small, sigma * 1.8)
    band = cv2.resize(band, (w, h), interpolation=cv2.INTER_LINEAR)
    band /= band.std() + 1e-8
    line_width = rng.uniform(0.10, 0.18)
    net = np.exp(-((band / line_width) ** 2)).astype(np.float32)
    strength = {"florid": (0.030, 0.045), "moderate": (0.020, 0.030), "subtle": (0.012, 0.020)}[tier]
    amp = rng.uniform(*strength)
    att = amp * net * lungs
    nod = nodules(lungs, spacing_mm, tier, rng, density_scale=0.45)
    params = {**nod.params, "reticular_cell_mm": round(float(cell_mm), 2), "reticular_contrast": round(float(amp), 4)}
    return Lesion(att + nod.attenuation, (net > 0.5) & lungs | nod.mask, params)


def masses(lungs: np.ndarray, spacing_mm: float, rng: np.random.Generator) -> Lesion:
    """A few large round nodules or masses (cannonball metastases)."""
    n = int(rng.integers(2, 9))
    r, c = _sample(lungs, n, rng)
    diam = rng.uniform(10, 45, n)
    radii = diam / 2 / spacing_mm
    peaks = (0.010 * diam * rng.uniform(0.7, 1.2, n)).astype(np.float32)
    att = stamp_nodules(lungs.shape, r, c, radii, peaks)
    return Lesion(att, att > 0.02, {"nodule_count": n, "nodule_size_mm": round(float(diam.mean()), 2)})


def consolidation(lungs: np.ndarray, zones: np.ndarray, rng: np.random.Generator) -> Lesion:
    """Focal air-space consolidation filling part of one zone, with ragged margins."""
    zone = int(rng.integers(0, 6))
    region = zones == zone
    h, w = lungs.shape
    noise = gaussian(rng.standard_normal((h // 4, w // 4)).astype(np.float32), 6)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR)
    rr, cc = np.nonzero(region)
    if rr.size == 0:
        return Lesion(np.zeros_like(lungs, dtype=np.float32), np.zeros_like(lungs), {"zones": ""})
    cy, cx = rr.mean(), cc.mean()
    yy, xx = np.ogrid[:h, :w]
    radius = np.sqrt(rr.size / np.pi) * rng.uniform(0.8, 1.3)
    blob = (((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2 + 0.9 * noise / (noise.std() + 1e-8) * 0.3) < 1.0
    mask = blob & lungs
    att = smooth(mask.astype(np.float32), 4 * h / 1024) * rng.uniform(0.08, 0.16)  # margins of a fixed width in mm
    return Lesion(att, mask, {"zones": ZONE_NAMES[zone]})


def effusion(lungs: np.ndarray, side_map: np.ndarray, rng: np.random.Generator) -> Lesion:
    """Pleural effusion: dependent density with a meniscus, blunting the costophrenic angle."""
    h, w = lungs.shape
    sides = [1, 2] if rng.random() < 0.3 else [int(rng.integers(1, 3))]
    att = np.zeros((h, w), dtype=np.float32)
    mask = np.zeros((h, w), dtype=bool)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    for side in sides:
        rows = np.flatnonzero((side_map == side).any(axis=1))
        cols = np.flatnonzero((side_map == side).any(axis=0))
        if rows.size == 0:
            continue
        level = rows[-1] - (rows[-1] - rows[0]) * rng.uniform(0.12, 0.35)
        lateral = cols[0] if side == 1 else cols[-1]
        # the meniscus climbs towards the lateral chest wall
        climb = (1 - np.abs(xx - lateral) / max(cols[-1] - cols[0], 1)) ** 3 * (rows[-1] - rows[0]) * 0.15
        fluid = (yy > level - climb) & ((side_map == side) | ((yy > level) & lungs))
        fluid &= np.abs(xx - (cols[0] + cols[-1]) / 2) < (cols[-1] - cols[0]) * 0.6
        mask |= fluid
        att += smooth(fluid.astype(np.float32), 6 * h / 1024) * rng.uniform(0.22, 0.35)
    return Lesion(att, mask, {"zones": ",".join("right" if s == 1 else "left" for s in sides)})


def texture(body_shape: tuple[int, int], spacing_mm: float, rng: np.random.Generator) -> Lesion:
    """Granular band-pass noise over the whole image (detector or film texture)."""
    h, w = body_shape
    grain_mm = rng.uniform(1.5, 4.0)
    noise = rng.standard_normal((h, w)).astype(np.float32)
    sigma = grain_mm / spacing_mm / 2.5
    band = gaussian(noise, sigma) - gaussian(noise, sigma * 2)
    band /= band.std() + 1e-8
    amp = rng.uniform(0.004, 0.010)
    return Lesion(amp * band, np.zeros(body_shape, dtype=bool), {"texture_grain_mm": round(float(grain_mm), 2), "contrast": round(float(amp), 4)})
