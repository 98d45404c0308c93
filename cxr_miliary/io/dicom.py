"""Read a DICOM file into a :class:`Radiograph`: header checks first, pixels second."""

from __future__ import annotations

import logging
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pydicom.filereader
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .acceptance import check_header
from .codestream import DEFLATED_UIDS, codestream_size, inflated_size
from .errors import RejectedImageError, UnreadableImageError
from .files import is_part10, read_head
from .grayscale import to_display
from .limits import DEFAULT_MAX_PIXELS, MAX_INFLATED_BYTES
from .phi import RAW_SCAN_BYTES, collect_phi_values, quarantined_warnings, raw_phi_values, redact, scrub
from .provenance import dicom_is_synthetic
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
        raise UnreadableImageError(path, "unsupported-transfer-syntax", f"transfer syntax {name} ({tsyntax}) is not supported for decoding") from None
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


def _first_fragment(pixel_data: bytes, n: int = 4096) -> bytes:
    """The first ``n`` bytes of the first fragment of encapsulated pixel data (after the offset table)."""
    pos = 0
    for _ in range(2):  # the Basic Offset Table item, then the first fragment
        if len(pixel_data) < pos + 8 or pixel_data[pos : pos + 4] != b"\xfe\xff\x00\xe0":
            return b""
        (length,) = struct.unpack_from("<I", pixel_data, pos + 4)
        if _ == 1:
            return bytes(pixel_data[pos + 8 : pos + 8 + min(length, n)])
        pos += 8 + length
    return b""


def _check_deflated(path: Path) -> None:
    """Refuse a Deflated Explicit VR file whose data set inflates beyond the limit, before pydicom inflates it."""
    try:
        meta = pydicom.filereader.read_file_meta_info(path)
    except Exception:
        return  # dcmread will report the damage
    if str(meta.get("TransferSyntaxUID", "")) not in DEFLATED_UIDS:
        return
    group_length = int(meta.get("FileMetaInformationGroupLength", 0) or 0)
    offset = 132 + 12 + group_length
    total = inflated_size(path, offset, MAX_INFLATED_BYTES)
    if total > MAX_INFLATED_BYTES:
        raise RejectedImageError(path, "too-large", f"the deflated data set inflates to more than {MAX_INFLATED_BYTES / 1e6:.0f} MB (limit)")


def _read_dataset(path: Path, legacy: bool) -> tuple[Dataset, bool]:
    """The data set with its pixel data deferred, and whether pydicom hit the end of the file mid-element.

    A legacy file gets the transfer syntax it was parsed with.
    """
    # Large elements (the pixel data) are read only when accessed, after the header
    # checks, so a huge or hostile file costs nothing to reject.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = pydicom.dcmread(path, defer_size="256 KB", force=legacy)
    cut = False
    for w in caught:  # handed on to the quarantine around us (redacted there)
        cut = cut or "end of file" in str(w.message).lower() or "truncat" in str(w.message).lower()
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if legacy:
        implicit, little = ds.original_encoding
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    return ds, cut


def read_dataset(path: str | Path) -> Dataset:
    """A DICOM file's data set (Part 10 or legacy) with its transfer syntax known, for writers that derive files from it.

    pydicom's warnings are quarantined and redacted as when reading an image.
    """
    path = Path(path)
    legacy = not is_part10(read_head(path))
    with quarantined_warnings([]):
        ds, _ = _read_dataset(path, legacy)
    return ds


def _check_codestream(ds: Dataset, path: Path, rows: int, cols: int, max_pixels: int) -> None:
    """For compressed pixel data, the codestream's own size must be the header's and within the limit."""
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax is None or not tsyntax.is_compressed or tsyntax.is_deflated:
        return
    declared = codestream_size(_first_fragment(ds.PixelData))
    if declared is None:
        return
    r, c = declared
    if r * c > max_pixels:
        raise RejectedImageError(
            path, "too-large", f"the compressed image declares {r}x{c} = {r * c / 1e6:.0f} megapixels, over the limit of {max_pixels / 1e6:.0f}"
        )
    if (r, c) != (rows, cols):
        raise UnreadableImageError(path, "corrupt-pixels", f"the compressed image is {r}x{c} but the header says {rows}x{cols}")


def _is_image_storage(ds: Dataset) -> bool:
    """The SOP Class is an image storage class (not SR, RT plan, waveform ...): it must hold pixels."""
    uid = str(ds.get("SOPClassUID", "") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
    return uid.startswith("1.2.840.10008.5.1.4.1.1.") and not uid.startswith(
        ("1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.481.", "1.2.840.10008.5.1.4.1.1.9.", "1.2.840.10008.5.1.4.1.1.104.")
    )


def _image_header(ds: Dataset) -> bool:
    """Rows, Columns and Bits Allocated are present: the file was meant to hold an image."""
    return all(k in ds for k in ("Rows", "Columns", "BitsAllocated"))


@dataclass
class _Parsed:
    """A DICOM file's header, checked for what every image needs (before acceptance and decoding)."""

    ds: Dataset
    cut: bool
    rows: int
    cols: int
    frames: int
    samples: int
    ts_name: str | None
    ts_uid: str | None


def _parse(path: Path, phi: list[str], *, max_pixels: int, legacy: bool) -> _Parsed:
    """Parse the header and check that the file can hold a decodable image of a sane size (inside a quarantine)."""
    if not legacy:
        _check_deflated(path)
    try:
        ds, cut = _read_dataset(path, legacy)
    except InvalidDicomError:
        raise UnreadableImageError(path, "not-dicom", "not a DICOM Part 10 file (no 128-byte preamble and 'DICM' prefix)") from None
    except (EOFError, struct.error):
        raise UnreadableImageError(path, "truncated", "the file ends inside its DICOM header") from None
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many types on damaged files
        raise UnreadableImageError(path, "corrupt", f"DICOM header unreadable ({redact(str(exc))})") from None
    phi.extend(collect_phi_values(ds))
    phi.extend(v for v in raw_phi_values(read_head(path, RAW_SCAN_BYTES)) if v not in phi)  # what the parser may have missed

    if "PixelData" not in ds:
        if cut or len(ds) < 2 or _image_header(ds) or _is_image_storage(ds):  # an image without its pixels: the file was cut
            raise UnreadableImageError(path, "truncated", "the file ends before its pixel data")
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
        raise RejectedImageError(path, "too-large", f"{rows}x{cols} = {rows * cols / 1e6:.0f} megapixels exceeds the limit of {max_pixels / 1e6:.0f}")
    ts_name, ts_uid = _check_decoder(ds, path)
    return _Parsed(ds, cut, rows, cols, frames, samples, ts_name, ts_uid)


def check_structure(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Dataset:
    """What :func:`read_dicom` checks before it decodes, plus that the pixel data is whole; no acceptance rules, no decoding.

    For a receiver that must refuse a file it could never decode (``serve`` at C-STORE)
    without spending a decode on it: unparseable, no pixel data, dimensions missing or
    too large, no decoder for its transfer syntax, a codestream that disagrees with the
    header, pixel data shorter than the header declares.

    Returns:
        The parsed header (pixel data deferred).

    Raises:
        UnreadableImageError, RejectedImageError: As :func:`read_dicom` would.
    """
    path = Path(path)
    legacy = not is_part10(read_head(path))
    phi: list[str] = []
    with quarantined_warnings(phi):
        parsed = _parse(path, phi, max_pixels=max_pixels, legacy=legacy)
        _check_codestream(parsed.ds, path, parsed.rows, parsed.cols, max_pixels)
        if _short_pixel_data(path, parsed.ds):
            raise UnreadableImageError(path, "truncated", "the pixel data is shorter than its header declares")
    return parsed.ds


def read_dicom(path: Path, *, force: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS, legacy: bool = False) -> Radiograph:
    """Decode a DICOM file (Part 10, or a legacy data set without the Part 10 header).

    Args:
        path: The file.
        force: Override acceptance rejections (modality, view, body part …).
        max_pixels: Refuse images whose header or codestream declares more pixels than this.
        legacy: The file has no Part 10 header (see :func:`~cxr_miliary.io.files.legacy_dicom_encoding`).

    Returns:
        The decoded :class:`Radiograph`.

    Raises:
        UnreadableImageError: Not DICOM, truncated, no pixel data, codec missing.
        RejectedImageError: Not a frontal chest radiograph (unless ``force``), or too large.
    """
    phi: list[str] = []
    with quarantined_warnings(phi) as decoder_notes:
        parsed = _parse(path, phi, max_pixels=max_pixels, legacy=legacy)
        ds, rows, cols, frames, samples, ts_name, ts_uid = (
            parsed.ds,
            parsed.rows,
            parsed.cols,
            parsed.frames,
            parsed.samples,
            parsed.ts_name,
            parsed.ts_uid,
        )

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
        notes = (
            [f"no-part10-header: a legacy DICOM data set without the Part 10 preamble and 'DICM' prefix; read as {ts_name or 'raw'}"]
            if legacy
            else []
        )
        notes += list(verdict.warnings)
        if verdict.rejections:
            if not force:
                code, reason = verdict.rejections[0]
                raise RejectedImageError(path, code, scrub(reason, phi))
            notes += [f"accepted with --force despite: {reason}" for _, reason in verdict.rejections]

        _check_codestream(ds, path, rows, cols, max_pixels)
        try:
            stored = pixel_array(ds, index=0 if frames > 1 else None)
        except Exception as exc:
            code = "truncated" if _short_pixel_data(path, ds) else "corrupt-pixels"
            what = "the pixel data is cut short" if code == "truncated" else f"pixel data could not be decoded ({ts_name})"
            raise UnreadableImageError(path, code, f"{what}: {redact(str(exc), phi)[:300]}") from None
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
        synthetic=dicom_is_synthetic(_text(ds, "Manufacturer")),
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


def _short_pixel_data(path: Path, ds: Dataset) -> bool:
    """Whether the file ends before the pixel data its header declares (a cut transfer).

    A deferred native pixel data element is measured without reading it (its declared
    length against the bytes the file holds after it): a receiver checks films of up to
    a hundred megabytes, several at once.
    """
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if tsyntax is not None and tsyntax.is_compressed:
        if "PixelData" not in ds:
            return True
        # encapsulated data ends with a Sequence Delimitation Item; a cut file lacks it
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 8))
            return fh.read(8)[:4] != b"\xfe\xff\xdd\xe0"
    try:
        expected = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1) or 1) * max(1, int(ds.BitsAllocated) // 8)
    except Exception:
        expected = None
    try:
        raw = ds.get_item("PixelData")
        deferred = getattr(raw, "value", b"") is None and getattr(raw, "value_tell", None) is not None and not getattr(tsyntax, "is_deflated", False)
        if deferred:
            held = min(int(raw.length), path.stat().st_size - int(raw.value_tell))
        else:
            held = len(ds.PixelData)
    except Exception:
        return True
    return expected is not None and held < expected
