"""``load_image``: one entry point for every supported file, format recognised by content."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .dicom import read_dicom
from .errors import ImageError, RejectedImageError, UnreadableImageError
from .files import is_part10, is_raster, legacy_dicom_encoding, read_head, stat_input
from .limits import DEFAULT_MAX_PIXELS
from .radiograph import Radiograph
from .raster import read_raster


def sniff_format(path: str | os.PathLike[str]) -> str:
    """Recognise a file by its first bytes, not its name (only regular files are opened).

    Args:
        path: The file.

    Returns:
        ``"dicom"`` (Part 10), ``"dicom-legacy"`` (a data set without the Part 10
        header) or ``"raster"``.

    Raises:
        UnreadableImageError: Missing, not a regular file, empty, or not an image format we read.
    """
    p = Path(path)
    size = stat_input(p).st_size
    head = read_head(p)
    if not head:
        raise UnreadableImageError(p, "empty-file", "file is empty (0 bytes)")
    if is_part10(head):
        return "dicom"
    if is_raster(head):
        return "raster"
    if legacy_dicom_encoding(head, size):
        return "dicom-legacy"
    if p.suffix.lower() in (".dcm", ".dicom"):
        if len(head) < 132:
            raise UnreadableImageError(p, "truncated", f"file is only {len(head)} bytes; too short to be DICOM")
        raise UnreadableImageError(p, "not-dicom", "not a DICOM file (no Part 10 header, and the first bytes are not a DICOM data set)")
    raise UnreadableImageError(p, "not-an-image", "not a recognised image (DICOM, PNG, JPEG or TIFF)")


def load_image(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Radiograph:
    """Decode a radiograph exactly as a reading station would display it.

    Args:
        path: A DICOM, PNG (8- or 16-bit), JPEG or TIFF file. The format is recognised
            from the file's content, not its extension.
        force: Accept inputs that fail the acceptance checks (non-radiograph modality,
            lateral view, non-chest body part, For Processing, colour, multi-frame); the
            overridden reasons are kept in ``meta.warnings``.
        max_pixels: Reject images whose header declares more pixels than this, before
            any pixel data is decoded.

    Returns:
        A :class:`Radiograph` whose ``pixels`` are float32 in [0, 1], 1 = displayed
        white, and whose ``meta`` holds no patient identifiers.

    Raises:
        UnreadableImageError: The file cannot be decoded (reason in the message).
        RejectedImageError: The file is not a frontal chest radiograph, or too large.
    """
    p = Path(path)
    kind = sniff_format(p)
    try:
        if kind in ("dicom", "dicom-legacy"):
            rad = read_dicom(p, force=force, max_pixels=max_pixels, legacy=kind == "dicom-legacy")
        else:
            rad = read_raster(p, force=force, max_pixels=max_pixels)
    except ImageError:
        raise
    except MemoryError:
        raise UnreadableImageError(p, "out-of-memory", "not enough memory to decode this image") from None
    except Exception as exc:  # any decoder failure becomes one clear error for this file
        raise UnreadableImageError(p, "decode-failed", f"could not be decoded ({type(exc).__name__})") from None
    if rad.pixels.size == 0 or min(rad.pixels.shape) < 16:
        raise RejectedImageError(p, "too-small", f"image is only {rad.pixels.shape[1]}x{rad.pixels.shape[0]} pixels")
    # min/max propagate NaN and infinity, so two reductions check both (a full isfinite
    # pass costs as much again on a 4-megapixel film)
    lo, hi = float(rad.pixels.min()), float(rad.pixels.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise UnreadableImageError(p, "non-finite", "decoded pixels contain NaN or infinity")
    if hi == lo:
        raise RejectedImageError(p, "blank", "image is blank (every pixel has the same value)")
    return rad
