"""The decoded radiograph handed to every later stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class ImageMeta:
    """What was decoded, for later stages and for users. Never holds patient identifiers.

    Attributes:
        source_format: ``"dicom"``, ``"png"``, ``"jpeg"``, ``"tiff"`` or ``"array"``.
        rows: Image height in pixels as decoded.
        columns: Image width in pixels as decoded.
        modality: DICOM Modality (``"DX"``, ``"CR"`` …) or None when unknown.
        view: View position (``"PA"``, ``"AP"``, ``"LL"`` …) or None when unknown.
        body_part: Body Part Examined or None.
        photometric_interpretation: e.g. ``"MONOCHROME1"``; for rasters the Pillow mode.
        bits_stored: Significant bits per pixel (estimated from the data for 16-bit PNG).
        pixel_spacing_mm: (row, column) spacing in mm when known.
        spacing_source: The tag the spacing came from (``"PixelSpacing"``,
            ``"ImagerPixelSpacing"``) or None.
        frames: Number of frames in the file (only the first is used).
        transfer_syntax: Transfer syntax name for DICOM, else None.
        transfer_syntax_uid: Transfer syntax UID for DICOM, else None.
        voi: How grey levels were mapped to display: ``"voi-lut-sequence"``,
            ``"window"``, ``"min-max"`` or ``"display-ready"``.
        window: (center, width) of the window used, when ``voi == "window"``.
        inverted: Whether the stored values were inverted (MONOCHROME1 / INVERSE).
        padding_fraction: Fraction of pixels masked as Pixel Padding Value.
        presentation_intent: DICOM Presentation Intent Type, when present.
        manufacturer: Equipment manufacturer (useful for subgroup analysis).
        synthetic: The file says it is a phantom this project rendered
            (:mod:`cxr_miliary.io.provenance`); everything else is real.
        warnings: Things a user should know (unverified tags, overridden rejections).
    """

    source_format: str
    rows: int
    columns: int
    modality: str | None = None
    view: str | None = None
    body_part: str | None = None
    photometric_interpretation: str | None = None
    bits_stored: int | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    spacing_source: str | None = None
    frames: int = 1
    transfer_syntax: str | None = None
    transfer_syntax_uid: str | None = None
    voi: str | None = None
    window: tuple[float, float] | None = None
    inverted: bool = False
    padding_fraction: float = 0.0
    presentation_intent: str | None = None
    manufacturer: str | None = None
    synthetic: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (tuples become lists)."""
        d = asdict(self)
        for key in ("pixel_spacing_mm", "window"):
            if d[key] is not None:
                d[key] = [float(v) for v in d[key]]
        return d


@dataclass
class Radiograph:
    """A decoded radiograph.

    Attributes:
        pixels: float32 2-D array in [0, 1]; 1 is displayed white (bone, contrast),
            0 is black (air), exactly as a reading station shows the image.
        meta: What was decoded (see :class:`ImageMeta`).
        path: The source file, or ``"<array>"``.
    """

    pixels: np.ndarray
    meta: ImageMeta
    path: str = "<array>"

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.pixels.shape  # type: ignore[return-value]

    def pixel_stats(self) -> dict[str, float]:
        """Summary statistics of the display values, for ``info`` and sanity checks."""
        p = self.pixels
        q = np.percentile(p, [1, 50, 99])
        return {
            "min": float(p.min()),
            "max": float(p.max()),
            "mean": float(p.mean()),
            "std": float(p.std()),
            "p01": float(q[0]),
            "p50": float(q[1]),
            "p99": float(q[2]),
        }
