"""Read a DICOM file into a :class:`Radiograph`: header checks first, pixels second."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder, pixel_array

from .acceptance import check_header
from .errors import RejectedImageError, UnreadableImageError
from .grayscale import to_display
from .phi import collect_phi_values, quarantined_warnings, redact, scrub
from .radiograph import ImageMeta, Radiograph

log = logging.getLogger(__name__)

_CODEC_PACKAGES = "pylibjpeg, pylibjpeg-libjpeg and pylibjpeg-openjpeg"


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None, str | None]:
    """Pixel spacing in mm: calibrated PixelSpacing first, then the detector's ImagerPixelSpacing."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is None:
            continue
        try:
            row, col = (float(v) for v in list(value)[:2])
        except (TypeError, ValueError):
            return None, None, f"{keyword} unreadable; pixel spacing unknown"
        if row > 0 and col > 0:
            return (row, col), keyword, None
        return None, None, f"{keyword} not positive; pixel spacing unknown"
    return None, None, "pixel spacing unknown (no PixelSpacing or ImagerPixelSpacing)"


def _check_decoder(ds: Dataset, path: Path) -> tuple[str | None, str | None]:
    """Return (name, uid) of the transfer syntax; raise when no installed plugin decodes it."""
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax is None:
        return None, None
    name = tsyntax.name
    if not tsyntax.is_compressed:
        return name, str(tsyntax)
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise UnreadableImageError(
            path, "unsupported-transfer-syntax", f"transfer syntax {name} ({tsyntax}) is not supported for decoding"
        ) from None
    if not decoder.is_available:
        raise UnreadableImageError(
            path,
            "decoder-missing",
            f"no decoder installed for transfer syntax {name} ({tsyntax}); install {_CODEC_PACKAGES}",
        )
    return name, str(tsyntax)


def _to_grey(arr: np.ndarray, notes: list[str]) -> np.ndarray:
    """Colour array (forced through) -> one channel: equal channels as is, else luminance."""
    if arr.ndim == 3:
        if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2]):
            return arr[..., 0]
        notes.append("colour pixels converted to luminance")
        weights = np.array([0.299, 0.587, 0.114])
        return (arr[..., :3].astype(np.float64) @ weights).astype(np.float64)
    return arr


def read_dicom(path: Path, *, force: bool = False, max_pixels: int = 100_000_000) -> Radiograph:
    """Decode a DICOM Part 10 file.

    Args:
        path: The file.
        force: Override acceptance rejections (modality, view, body part …).
        max_pixels: Refuse images whose header declares more pixels than this.

    Returns:
        The decoded :class:`Radiograph`.

    Raises:
        UnreadableImageError: Not DICOM, truncated, no pixel data, codec missing.
        RejectedImageError: Not a frontal chest radiograph (unless ``force``), or too large.
    """
    phi: list[str] = []
    with quarantined_warnings(phi) as decoder_notes:
        try:
            # Large elements (the pixel data) are read only when accessed, after the
            # header checks, so a huge or hostile file costs nothing to reject.
            ds = pydicom.dcmread(path, defer_size="256 KB")
        except InvalidDicomError:
            raise UnreadableImageError(
                path, "not-dicom", "not a DICOM Part 10 file (no 128-byte preamble and 'DICM' prefix)"
            ) from None
        except Exception as exc:  # pydicom raises many types on damaged files
            raise UnreadableImageError(path, "corrupt", f"DICOM header unreadable ({redact(str(exc))})") from None
        phi.extend(collect_phi_values(ds))

        if "PixelData" not in ds:
            raise UnreadableImageError(path, "no-pixel-data", "the DICOM file holds no image pixel data")
        try:
            rows, cols = int(ds.Rows), int(ds.Columns)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            samples = int(ds.get("SamplesPerPixel", 1) or 1)
        except Exception:
            raise UnreadableImageError(path, "corrupt", "image dimensions missing or unreadable") from None
        if rows <= 0 or cols <= 0:
            raise UnreadableImageError(path, "corrupt", f"invalid image dimensions {rows}x{cols}")
        if rows * cols > max_pixels:
            raise RejectedImageError(
                path, "too-large", f"{rows}x{cols} = {rows * cols / 1e6:.0f} megapixels exceeds the limit of {max_pixels / 1e6:.0f}"
            )
        ts_name, ts_uid = _check_decoder(ds, path)

        modality = _text(ds, "Modality")
        view = _text(ds, "ViewPosition")
        body_part = _text(ds, "BodyPartExamined")
        intent = _text(ds, "PresentationIntentType")
        verdict = check_header(
            modality=modality,
            body_part=body_part,
            view=view,
            presentation_intent=intent,
            sop_class_uid=ds.get("SOPClassUID"),
            samples_per_pixel=samples,
            frames=frames,
        )
        notes = list(verdict.warnings)
        if verdict.rejections:
            if not force:
                code, reason = verdict.rejections[0]
                raise RejectedImageError(path, code, scrub(reason, phi))
            notes += [f"accepted with --force despite: {reason}" for _, reason in verdict.rejections]

        try:
            stored = pixel_array(ds, index=0 if frames > 1 else None)
        except Exception as exc:
            raise UnreadableImageError(
                path, "corrupt-pixels", f"pixel data could not be decoded ({ts_name}): {redact(str(exc), phi)}"
            ) from None
        stored = _to_grey(stored, notes) if samples > 1 else stored
        if stored.ndim != 2:
            raise UnreadableImageError(path, "corrupt-pixels", f"decoded pixel array has shape {stored.shape}")
        try:
            pixels, info = to_display(stored, ds)
        except Exception as exc:
            raise UnreadableImageError(path, "bad-lut", f"grey-level transform failed: {redact(str(exc), phi)}") from None

    spacing, spacing_source, spacing_note = _spacing(ds)
    if spacing_note:
        notes.append(spacing_note)
    if frames > 1:
        notes.append(f"{frames} frames in file; the first was used")
    if decoder_notes:
        notes.append(f"{len(decoder_notes)} decoder warning(s) while reading (details at debug log level)")
    meta = ImageMeta(
        source_format="dicom",
        rows=int(pixels.shape[0]),
        columns=int(pixels.shape[1]),
        modality=modality,
        view=view,
        body_part=body_part,
        photometric_interpretation=_text(ds, "PhotometricInterpretation"),
        bits_stored=int(ds.get("BitsStored") or 0) or None,
        pixel_spacing_mm=spacing,
        spacing_source=spacing_source,
        frames=frames,
        transfer_syntax=ts_name,
        transfer_syntax_uid=ts_uid,
        voi=info.voi,
        window=info.window,
        inverted=info.inverted,
        padding_fraction=info.padding_fraction,
        presentation_intent=intent,
        manufacturer=_text(ds, "Manufacturer"),
        warnings=notes + info.warnings,
    )
    _scrub(meta, phi)
    return Radiograph(pixels=pixels, meta=meta, path=str(path))


def _scrub(meta: ImageMeta, phi: list[str]) -> None:
    """Belt and braces: no meta string may contain an identifying value from the file."""
    for name in ("modality", "view", "body_part", "photometric_interpretation", "presentation_intent", "manufacturer"):
        value = getattr(meta, name)
        if value and any(v in value for v in phi):
            setattr(meta, name, "[redacted]")
    meta.warnings = [scrub(w, phi) for w in meta.warnings]
