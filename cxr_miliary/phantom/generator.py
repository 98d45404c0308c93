"""One phantom radiograph with ground truth, deterministic in (seed, index)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..lung_zones import ZONE_NAMES, zone_map
from . import conditions
from .acquisition import acquire
from .anatomy import NORMAL, render_anatomy
from .lesions import Lesion, consolidation, effusion, masses, nodules, reticulonodular, texture
from .patterns import ALL_PATTERNS, DIFFICULTIES, FRAMINGS, NEGATIVE_PATTERNS, POSITIVE_PATTERNS  # noqa: F401 - re-exported
from .vessels import render_vessels

#: Default pixel spacing at 1024 px; a different size covers the same anatomy.
DEFAULT_SPACING_AT_1024 = 0.35
#: CR/DX detectors: a 35-43 cm field at 0.10-0.20 mm pixels (about 1,750-4,300 px a side).
DETECTOR_FIELD_MM = (350.0, 430.0)
DETECTOR_SPACING_MM = (0.10, 0.20)
#: ``size="mix"``, the default model's training mix: most films at detector size, some
#: rendered small (the sizes earlier phantoms came in), so no size is foreign to it.
SIZE_MIX = ((0.10, 512), (0.15, 1024), (0.75, "detector"))
SIZE_SPECS = ("detector", "mix")
#: ``tight`` (:data:`~cxr_miliary.phantom.patterns.FRAMINGS`): the chest's scale in the frame (the phantom's lungs span about 0.72 of the frame
#: at scale 1), drawn per film from a stream of its own.
TIGHT_SCALE = (1.02, 1.18)


@dataclass
class Phantom:
    """A rendered phantom and its truth."""

    display: np.ndarray
    stored: np.ndarray
    bits: int
    lung_mask: np.ndarray
    lesion_mask: np.ndarray
    record: dict[str, object] = field(default_factory=dict)
    lung_side: np.ndarray | None = None  # int8: 1 image-left lung (patient's right), 2 image-right lung


def rng_for(seed: int, index: int) -> np.random.Generator:
    """The generator for image ``index`` of a set: independent of worker count and order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def geometry(seed: int, index: int, size: int | str) -> tuple[int, float | None]:
    """Side in pixels and pixel spacing (None: the default for that side) of image ``index``.

    ``size`` is a side in pixels, ``"detector"`` (a CR/DX detector's own size and pixel
    spacing, drawn per image from :data:`DETECTOR_FIELD_MM` and :data:`DETECTOR_SPACING_MM`)
    or ``"mix"`` (:data:`SIZE_MIX`). The draw has its own random stream, so the same
    (seed, index) shows the same patient and finding at every size.
    """
    if not isinstance(size, str):
        return int(size), None
    if size not in SIZE_SPECS:
        raise ValueError(f"size must be a number of pixels or one of {', '.join(SIZE_SPECS)} (got {size!r})")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0x51E]))
    if size == "mix":
        u, acc = rng.random(), 0.0
        for share, choice in SIZE_MIX:
            acc += share
            if u < acc:
                if choice != "detector":
                    return int(choice), None
                break
    spacing = float(rng.uniform(*DETECTOR_SPACING_MM))
    side = int(round(rng.uniform(*DETECTOR_FIELD_MM) / spacing))
    return side, round(spacing, 4)


def choose_pattern(rng: np.random.Generator, positive_fraction: float, patterns: tuple[str, ...]) -> str:
    """Pick a pattern: positive with probability ``positive_fraction`` (within ``patterns``)."""
    pos = [p for p in patterns if p in POSITIVE_PATTERNS]
    neg = [p for p in patterns if p in NEGATIVE_PATTERNS]
    if pos and (not neg or rng.random() < positive_fraction):
        return str(rng.choice(pos))
    return str(rng.choice(neg))


def render_phantom(
    seed: int,
    index: int,
    size: int | str = 1024,
    pattern: str | None = None,
    difficulty: str | None = None,
    positive_fraction: float = 0.5,
    patterns: tuple[str, ...] = ALL_PATTERNS,
    pixel_spacing_mm: float | None = None,
    condition: str | None = None,
    framing: str = "phantom",
) -> Phantom:
    """Render image ``index`` of the phantom set ``seed``.

    Args:
        seed: Set seed.
        index: Image index within the set.
        size: Side in pixels, or ``"detector"`` / ``"mix"`` (see :func:`geometry`).
        pattern: Force a pattern (see :data:`ALL_PATTERNS`); random when None.
        difficulty: Force a tier (see :data:`DIFFICULTIES`); random when None.
        positive_fraction: Probability of a positive pattern when ``pattern`` is None.
        patterns: Patterns to draw from.
        pixel_spacing_mm: Physical pixel size; default covers the same anatomy as
            0.35 mm at 1024 px (or the detector's, with ``size="detector"``).
        condition: A condition real films have (:data:`~cxr_miliary.phantom.conditions.CONDITIONS`:
            opacified lungs, AP portable geometry, devices; or ``lung-mix``, a draw from the lung
            model's training mix), drawn from a random stream of its own; None: the PA phantom as always.
        framing: :data:`~cxr_miliary.phantom.patterns.FRAMINGS`: ``tight`` frames the chest as
            real films are (the lung box 75-87 % of the film), the same patient and finding otherwise.

    Returns:
        The :class:`Phantom`.
    """
    size, drawn_spacing = geometry(seed, index, size)
    pixel_spacing_mm = pixel_spacing_mm or drawn_spacing
    rng = rng_for(seed, index)
    pattern = pattern or choose_pattern(rng, positive_fraction, patterns)
    if pattern not in ALL_PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; choose from {', '.join(ALL_PATTERNS)}")
    tier = difficulty or str(rng.choice(DIFFICULTIES))
    spacing = pixel_spacing_mm or DEFAULT_SPACING_AT_1024 * 1024 / size
    crng = conditions.rng_for_condition(seed, index) if condition else None
    chosen = conditions.choose(condition, crng) if condition and crng is not None else None
    style = conditions.style_for(chosen, crng) if chosen and crng is not None else NORMAL
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {', '.join(FRAMINGS)} (got {framing!r})")
    if framing == "tight":  # a stream of its own: the patient's draws are unchanged
        frng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0xF4A]))
        style = replace(style, framing_scale=round(float(frng.uniform(*TIGHT_SCALE)), 4))
    anat = render_anatomy(size, rng, style=style)
    if style.framing_scale:  # the same patient on a smaller field: finer millimetres per pixel
        spacing *= anat.params["drawn_scale"] / style.framing_scale
    lungs = anat.lung_mask
    zones = zone_map(anat.lung_side)
    prominence = rng.uniform(1.6, 2.1) if pattern == "vascular" else rng.uniform(0.85, 1.15)
    A = anat.attenuation + render_vessels(size, anat.hila, lungs, rng, prominence)
    seen: dict[str, object] = {}
    if chosen and crng is not None:  # the truth stays the anatomical lung, whatever covers it
        A, seen = conditions.apply(chosen, A, anat, spacing, crng)
        seen.update(style.record())

    lesion = Lesion(np.zeros_like(A), np.zeros(A.shape, dtype=bool), {})
    involved: list[str] = []
    if pattern == "miliary":
        lesion = nodules(lungs, spacing, tier, rng)
    elif pattern == "reticulonodular":
        lesion = reticulonodular(lungs, spacing, tier, rng)
    elif pattern == "masses":
        lesion = masses(lungs, spacing, rng)
    elif pattern == "consolidation":
        lesion = consolidation(lungs, zones, rng)
    elif pattern == "clustered-zone":
        zone = int(rng.integers(0, 6))
        lesion = nodules(zones == zone, spacing, tier, rng, density_scale=1.5)
    elif pattern == "unilateral-nodules":
        side = int(rng.integers(1, 3))
        lesion = nodules(anat.lung_side == side, spacing, tier, rng)
    elif pattern == "effusion":
        lesion = effusion(lungs, anat.lung_side, rng)
    elif pattern == "texture":
        lesion = texture(A.shape, spacing, rng)
    A = A + lesion.attenuation
    # Benign extras on any image, so that none of them marks a class.
    extras = []
    if pattern != "texture" and rng.random() < 0.15:
        A = A + texture(A.shape, spacing, rng).attenuation
        extras.append("texture")
    if pattern not in ("effusion",) and rng.random() < 0.1:
        A = A + effusion(lungs, anat.lung_side, rng).attenuation
        extras.append("effusion")

    if lesion.mask.any():
        # a zone is involved when it holds a real share of the lesion, not a nodule's edge
        in_lung = lesion.mask & (zones >= 0)
        share = np.bincount(zones[in_lung].astype(np.int64), minlength=6) / max(int(in_lung.sum()), 1)
        involved = [ZONE_NAMES[z] for z in range(6) if share[z] >= 0.03]
    acq = acquire(A, rng, spacing_mm=spacing)
    label = int(pattern in POSITIVE_PATTERNS)
    record: dict[str, object] = {
        "label": label,
        "pattern": pattern,
        "difficulty": tier if pattern not in ("normal", "vascular", "effusion", "consolidation", "masses", "texture") else "none",
        "pixel_spacing_mm": round(float(spacing), 4),
        "nodule_count": int(lesion.params.get("nodule_count", 0)),
        "nodule_size_mm": float(lesion.params.get("nodule_size_mm", 0.0)),
        "contrast": float(lesion.params.get("contrast", 0.0)),
        "zones": ",".join(involved) if involved else str(lesion.params.get("zones", "")),
        "n_zones": len(involved),
        "extras": ",".join(extras),
        "sex": "F" if anat.params.get("breasts") else "M",
        "seed": int(seed),
        "index": int(index),
        "size": int(size),
        **{k: v for k, v in acq.params.items()},
        **seen,
    }
    if framing != "phantom":
        record.update(framing=framing, framing_scale=style.framing_scale)
    return Phantom(acq.display, acq.stored, acq.bits, lungs, lesion.mask & lungs if label else lesion.mask, record, anat.lung_side)
