"""Write small DICOM fixtures with pydicom itself, with PHI canaries in every identifying tag."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom import config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

CANARY = "CANARYPHI"
DX_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation


def ramp(rows: int = 32, cols: int = 48, bits: int = 12, seed: int = 0) -> np.ndarray:
    """A deterministic image covering the full range of ``bits``, with a random part."""
    rng = np.random.default_rng(seed)
    top = 2**bits - 1
    arr = np.linspace(0, top, rows * cols).reshape(rows, cols)
    arr[rows // 2 :] = rng.integers(0, top + 1, size=(rows - rows // 2, cols))
    return arr.round().astype(np.uint16)


def make_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    signed: bool = False,
    modality: str | None = "DX",
    view: str | None = "PA",
    body_part: str | None = "CHEST",
    rescale: tuple[float, float] | None = None,
    windows: Sequence[tuple[float, float]] | None = None,
    voi_function: str | None = None,
    voi_lut: tuple[int, int, Sequence[int]] | None = None,
    padding: int | None = None,
    padding_limit: int | None = None,
    presentation_lut_shape: str | None = None,
    intent: str | None = "FOR PRESENTATION",
    sop_class: str = DX_SOP_CLASS,
    spacing: tuple[float, float] | None = (0.143, 0.143),
    imager_spacing: tuple[float, float] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    phi: bool = True,
    invalid_phi: bool = False,
) -> Path:
    """Write a DICOM file and return its path.

    ``pixels`` is (rows, cols), (frames, rows, cols) or (rows, cols, 3) for RGB.
    ``voi_lut`` is (first_mapped, bits_per_entry, data).
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    if phi:
        ds.PatientName = f"{CANARY}^NAME"
        ds.PatientID = f"{CANARY}ID"
        ds.PatientBirthDate = "19010101"
        ds.AccessionNumber = f"{CANARY}ACC"
        ds.InstitutionName = f"{CANARY} HOSPITAL"
        ds.ReferringPhysicianName = f"{CANARY}^DOCTOR"
        ds.StudyDate = "20200101"
    if invalid_phi:
        # Values pydicom complains about when read, quoting them in its warning.
        ds.add_new(0x00100030, "DA", f"{CANARY}BD")
        ds.add_new(0x00080020, "DA", f"{CANARY}SD")
        ds.add_new(0x00100040, "CS", f"{CANARY} sex with spaces and lower case")
    if modality is not None:
        ds.Modality = modality
    if view is not None:
        ds.ViewPosition = view
    if body_part is not None:
        ds.BodyPartExamined = body_part
    if intent is not None:
        ds.PresentationIntentType = intent
    if spacing is not None:
        ds.PixelSpacing = list(spacing)
    if imager_spacing is not None:
        ds.ImagerPixelSpacing = list(imager_spacing)
    ds.Manufacturer = "PHANTOMWORKS"

    arr = np.asarray(pixels)
    if signed:
        arr = arr.astype(np.int16)
    photometric_in = "RGB" if arr.ndim == 3 and arr.shape[-1] == 3 else photometric
    ds.set_pixel_data(arr, photometric_in, bits_stored, generate_instance_uid=False)
    if arr.ndim == 3 and arr.shape[-1] != 3:
        ds.NumberOfFrames = arr.shape[0]
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if windows:
        ds.WindowCenter = [w[0] for w in windows] if len(windows) > 1 else windows[0][0]
        ds.WindowWidth = [w[1] for w in windows] if len(windows) > 1 else windows[0][1]
    if voi_function:
        ds.VOILUTFunction = voi_function
    if voi_lut is not None:
        first, bits, data = voi_lut
        item = Dataset()
        item.LUTDescriptor = [len(data) if len(data) < 65536 else 0, first, bits]
        item.LUTData = [int(v) for v in data]
        item["LUTData"].VR = "US"
        ds.VOILUTSequence = DicomSequence([item])
    if padding is not None:
        ds.add_new(0x00280120, "SS" if signed else "US", padding)
    if padding_limit is not None:
        ds.add_new(0x00280121, "SS" if signed else "US", padding_limit)
    if presentation_lut_shape is not None:
        ds.PresentationLUTShape = presentation_lut_shape

    if transfer_syntax == ExplicitVRBigEndian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
        ds.PixelData = arr.astype(arr.dtype.newbyteorder(">")).tobytes()
        ds["PixelData"].VR = "OW"
        _save(ds, path, implicit_vr=False, little_endian=False)
        return path
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if transfer_syntax in ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2"):  # deflated, implicit
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    elif transfer_syntax != ExplicitVRLittleEndian:
        ds.compress(transfer_syntax)
    _save(ds, path)
    return path


def _save(ds: Dataset, path: Path, **kwargs: bool) -> None:
    """Save without pydicom's write-time validation (fixtures hold deliberately bad values)."""
    old = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds.save_as(path, enforce_file_format=True, **kwargs)
    finally:
        config.settings.writing_validation_mode = old
