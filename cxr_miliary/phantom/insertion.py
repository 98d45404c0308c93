"""Superimpose the miliary / reticulonodular pattern on a real film, inside its lung fields.

The field's answer to a rare finding (Litjens et al., MICCAI 2010; Chung et al., J Digit
Imaging 2022): draw simulated lesions into real radiographs. The lesions are the
phantoms' own (:mod:`cxr_miliary.phantom.lesions`): uniform 1-3 mm nodules at uniform
random density through both lung fields, subpleural margins included, or a fine
reticular net with superimposed nodules, in the three tiers. What differs is how they
enter the film, which is already processed:

- **size in millimetres**: from the file's pixel spacing, else from the field a frontal
  chest film covers (:data:`ASSUMED_FIELD_MM` along its longest side);
- **the log-exposure domain**: a processed film's grey level is a smooth, monotone
  function of log exposure, so added attenuation changes the grey level by the local
  slope of that function. The slope is taken from the film's own local brightness
  (``4 p (1 - p)`` of a sigmoid tone curve, 1 at mid-grey): the same nodule is dimmer
  over the bright heart border and the domes than over aerated lung, as on a real film.
  The scale (grey level per attenuation unit, :data:`DISPLAY_PER_ATTENUATION`) was
  measured on phantoms, where the same lesions are rendered through the full
  acquisition: the change in display value per unit of lesion attenuation at nodule
  centres, median over 12 phantoms (1.67);
- **the film's own blur and processing**: the lesion map is blurred like a detector's
  MTF (0.15-0.35 mm) and sharpened like a vendor's unsharp mask before it is added; the
  film's noise is its own (the lesion is added to it, not a fresh noise field);
- **no edge**: the lesion map is smooth and is added only inside the lung fields (every
  changed pixel lies inside them), so nothing marks where the insertion stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .lesions import TIERS, nodules, reticulonodular
from .patterns import POSITIVE_PATTERNS

#: The longest side of a frontal chest film, for files that carry no pixel spacing (35-43 cm).
ASSUMED_FIELD_MM = 400.0
#: Display change per unit of the phantoms' lesion attenuation at mid-grey (measured on phantoms, see above).
DISPLAY_PER_ATTENUATION = 1.67
PATTERNS = POSITIVE_PATTERNS
TIER_NAMES = tuple(TIERS)
#: The finest pixel a lesion is drawn at before it is reduced to the film's pixels (a detector's).
FINE_MM = 0.2


@dataclass
class Inserted:
    """A film with the pattern added.

    Attributes:
        pixels: float32 display values in [0, 1].
        lesion_mask: bool, where the lesions are.
        params: pattern, tier, nodule count and size (mm), contrast, spacing used.
    """

    pixels: np.ndarray
    lesion_mask: np.ndarray
    params: dict[str, object] = field(default_factory=dict)


def spacing_for(shape: tuple[int, int], spacing_mm: float | None) -> tuple[float, str]:
    """The pixel spacing to draw at, and where it came from (the file, or the assumed field)."""
    if spacing_mm and 0.02 <= float(spacing_mm) <= 2.0:
        return float(spacing_mm), "file"
    return ASSUMED_FIELD_MM / max(shape), "assumed-field"


def insert_pattern(
    pixels: np.ndarray,
    lung_mask: np.ndarray,
    rng: np.random.Generator,
    *,
    pattern: str = "miliary",
    tier: str = "moderate",
    spacing_mm: float | None = None,
) -> Inserted:
    """Add ``pattern`` at ``tier`` to a film inside ``lung_mask``.

    Args:
        pixels: Display values (H x W, [0, 1], 1 = white).
        lung_mask: The lung fields (H x W bool) - the lung model's.
        rng: Random generator (the caller keys it by seed, input and index).
        pattern: ``miliary`` or ``reticulonodular``.
        tier: ``florid``, ``moderate`` or ``subtle``.
        spacing_mm: The film's pixel spacing (None: from the assumed field size).

    Raises:
        ValueError: Unknown pattern or tier, or no lung fields.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}")
    if tier not in TIER_NAMES:
        raise ValueError(f"tier must be one of {', '.join(TIER_NAMES)}")
    lungs = np.asarray(lung_mask, dtype=bool)
    if not lungs.any():
        raise ValueError("no lung fields to insert into")
    px = np.asarray(pixels, dtype=np.float32)
    h, w = px.shape
    spacing, source = spacing_for(px.shape, spacing_mm)
    # Drawn at detector resolution (at most FINE_MM a pixel) and area-reduced to the film,
    # as a detector records a lesion and a film is reduced: on a coarse film a 1-2 mm
    # nodule is a soft spot of partial volume, not a one-pixel dot.
    k = max(1, int(np.ceil(spacing / FINE_MM)))
    fine = lungs if k == 1 else cv2.resize(lungs.astype(np.uint8), (w * k, h * k), interpolation=cv2.INTER_NEAREST).astype(bool)
    lesion = nodules(fine, spacing / k, tier, rng) if pattern == "miliary" else reticulonodular(fine, spacing / k, tier, rng)
    att = lesion.attenuation.astype(np.float32)
    # the detector's blur and the vendor's unsharp mask, at a millimetre scale
    blur_mm = rng.uniform(0.15, 0.35)
    att = cv2.GaussianBlur(att, (0, 0), max(blur_mm / spacing * k, 0.3))
    sharp_sigma, sharp_gain = rng.uniform(0.5, 1.0) / spacing * k, rng.uniform(0.2, 0.8)
    att = att + sharp_gain * (att - cv2.GaussianBlur(att, (0, 0), max(sharp_sigma, 0.5)))
    mask = lesion.mask
    if k > 1:
        att = cv2.resize(att, (w, h), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.25
    delta = DISPLAY_PER_ATTENUATION * tone_slope(px, 4.0 / spacing) * att * lungs
    out = np.clip(px + delta, 0.0, 1.0).astype(np.float32)
    lesion_mask = mask & lungs
    params = {
        "pattern": pattern,
        "tier": tier,
        "spacing_mm": round(spacing, 4),
        "spacing_source": source,
        "blur_mm": round(float(blur_mm), 3),
        "mean_display_change": round(float(delta[lesion_mask].mean()) if lesion_mask.any() else 0.0, 5),
        **dict(lesion.params),
    }
    return Inserted(out, lesion_mask, params)


def tone_slope(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """The local slope of a processed film's tone curve (``4 p (1 - p)`` of its brightness blurred over ``sigma`` pixels; 0.05-1).

    Added attenuation changes a grey level by this much per unit of
    :data:`DISPLAY_PER_ATTENUATION`: least over the bright mediastinum and domes.
    """
    local = _smooth(pixels, sigma)
    return np.clip(4.0 * local * (1.0 - local), 0.05, 1.0)


def _smooth(img: np.ndarray, sigma: float) -> np.ndarray:
    """A wide blur on a small copy (the film's large-scale brightness)."""
    h, w = img.shape
    f = max(1, round(max(h, w) / 256))
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), max(sigma / f, 0.5)), (w, h), interpolation=cv2.INTER_LINEAR)
