"""Read PNG (8/16-bit), JPEG and TIFF radiographs with Pillow."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .acceptance import check_header
from .errors import RejectedImageError, UnreadableImageError
from .limits import DEFAULT_MAX_PIXELS
from .phi import quarantined_warnings
from .provenance import raster_is_synthetic
from .radiograph import ImageMeta, Radiograph

_FORMATS = {"PNG": "png", "JPEG": "jpeg", "TIFF": "tiff", "MPO": "jpeg"}


def _grey_from_colour(arr: np.ndarray, path: Path, force: bool, notes: list[str]) -> np.ndarray:
    """Accept RGB whose channels are equal as grey; reject true colour unless forced."""
    rgb = arr[..., :3]
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., 0]
    if not force:
        raise RejectedImageError(path, "colour", "a true colour image (RGB channels differ); a greyscale radiograph is needed")
    notes.append("accepted with --force despite: true colour image, converted to luminance")
    return (rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)


def _to_unit(arr: np.ndarray, notes: list[str]) -> tuple[np.ndarray, int, str]:
    """Map raster values to [0, 1].

    8-bit files are display-ready. Deeper files (PadChest stores 10-12 significant bits
    in 16-bit PNGs) carry no window, so dividing by 65535 would leave them nearly
    black: they are stretched linearly from their own minimum to maximum instead.
    """
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8, "display-ready"
    values = arr.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    bits = int(np.ceil(np.log2(hi + 1))) if hi >= 1 and arr.dtype.kind in "ui" else 16
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return np.full(arr.shape, np.nan, dtype=np.float32), bits, "min-max"  # load_image reports it
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.float32), bits, "min-max"
    notes.append(f"{bits} significant bits; grey levels stretched from min to max")
    return ((values - lo) / (hi - lo)).astype(np.float32), bits, "min-max"


def read_raster(path: Path, *, force: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS) -> Radiograph:
    """Decode a PNG, JPEG or TIFF file.

    Args:
        path: The file.
        force: Accept true colour images (converted to luminance) and multi-page files.
        max_pixels: Refuse images whose header declares more pixels than this.

    Returns:
        The decoded :class:`Radiograph`.

    Raises:
        UnreadableImageError: Unknown format, truncated, decompression bomb.
        RejectedImageError: Colour, multi-page, or too large.
    """
    notes: list[str] = []
    try:
        # Pillow's own warnings (corrupt EXIF, which may quote text) go to the debug log, redacted
        with quarantined_warnings([]), warnings.catch_warnings():
            # A decompression bomb is an error, never a warning scrolling past.
            warnings.simplefilter("error", Image.DecompressionBombWarning)

            with Image.open(path) as img:
                fmt = _FORMATS.get(img.format or "", (img.format or "unknown").lower())
                cols, rows = img.size
                if rows * cols > max_pixels:
                    raise RejectedImageError(
                        path, "too-large", f"{rows}x{cols} = {rows * cols / 1e6:.0f} megapixels exceeds the limit of {max_pixels / 1e6:.0f}"
                    )
                frames = int(getattr(img, "n_frames", 1) or 1)
                if frames > 1 and not force:
                    raise RejectedImageError(path, "multi-frame", f"{frames} frames/pages; a single image is needed")
                mode = img.mode
                img.load()
                synthetic = raster_is_synthetic(img.info) if fmt == "png" else False
                if fmt == "jpeg":
                    img = ImageOps.exif_transpose(img)
                arr = _array(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImageError(path, "decompression-bomb", "image declares an implausibly large size (decompression bomb)") from None
    except UnidentifiedImageError:
        raise UnreadableImageError(path, "not-an-image", "not a recognised image (DICOM, PNG, JPEG or TIFF)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadableImageError(path, "truncated", f"image data truncated or corrupt ({exc})") from None

    if arr.ndim == 3:
        arr = _grey_from_colour(arr, path, force, notes)
    pixels, bits, voi = _to_unit(arr, notes)
    verdict = check_header(is_dicom=False)
    meta = ImageMeta(
        source_format=fmt,
        rows=int(pixels.shape[0]),
        columns=int(pixels.shape[1]),
        photometric_interpretation=mode,
        bits_stored=bits,
        frames=frames,
        voi=voi,
        synthetic=synthetic,
        warnings=verdict.warnings + ["pixel spacing unknown (not stored in this format)"] + notes,
    )
    return Radiograph(pixels=pixels, meta=meta, path=str(path))


def _array(img: Image.Image) -> np.ndarray:
    """Pillow image -> numpy array with its natural dtype (uint8, uint16, int32 or float32)."""
    mode = img.mode
    if mode in ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGBA" if mode in ("P", "PA") else "RGB")
    elif mode == "LA":
        img = img.getchannel("L")
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(img).astype(np.uint16)
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if mode == "I":
        arr = arr.astype(np.int64)
        if arr.min() >= 0 and arr.max() <= 65535:
            arr = arr.astype(np.uint16)
    return arr
