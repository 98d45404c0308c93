"""Provenance: does a file say it is a synthetic phantom this project rendered?

A phantom carries its origin in the file itself, so a phantom stays a phantom however it
is renamed or moved: DICOM phantoms name the manufacturer :data:`PHANTOM_MANUFACTURER`;
PNG phantoms carry a text chunk :data:`PNG_KEY` = :data:`PNG_VALUE`. Anything else is
treated as real (an image converted without its chunk becomes "real", the cautious
direction: a phantom-only model is then called unreliable on it).
"""

from __future__ import annotations

from typing import Any

PHANTOM_MANUFACTURER = "cxr-miliary phantom"
PNG_KEY = "cxr-miliary"
PNG_VALUE = "synthetic phantom"


def dicom_is_synthetic(manufacturer: str | None) -> bool:
    """Whether a DICOM file's Manufacturer marks it as a phantom of this project."""
    return (manufacturer or "").strip() == PHANTOM_MANUFACTURER


def raster_is_synthetic(info: dict[str, Any]) -> bool:
    """Whether a PNG's text chunks (Pillow's ``Image.info``) mark it as a phantom of this project."""
    return str(info.get(PNG_KEY, "")).strip() == PNG_VALUE


def png_text() -> Any:
    """The ``PngInfo`` a phantom PNG is written with."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PNG_KEY, PNG_VALUE)
    return info
