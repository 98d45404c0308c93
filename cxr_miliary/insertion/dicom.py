"""An inserted film as DICOM: the source's pixel format and photometric interpretation, new UIDs, no identifiers.

The pattern is added to display values; the file must hold stored values that its own
grey-level chain (Modality LUT, VOI, polarity: :func:`cxr_miliary.io.grayscale.to_display`)
turns into them. That chain is monotone, so it is inverted by looking each changed
display value up in the chain's table over the stored values the image uses. Every
identifying attribute is removed (a subset of PS3.15's basic profile: the project's own
list of identifying keywords, private tags, and the UIDs, which are new and derived from
the job's seed, input and index), and the file says it was de-identified and derived.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ..atomic import atomic_path
from ..io.dicom import read_dataset
from ..io.grayscale import to_display
from ..io.phi import PHI_KEYWORDS

_UID_ROOT = "1.2.826.0.1.3680043.10.1599."
#: Identifying attributes the image IODs require to be present (empty when unknown).
_TYPE_2 = ("PatientBirthDate", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")


def stored_from_display(ds: pydicom.Dataset, stored: np.ndarray, display: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Stored values whose display (through ``ds``'s own chain) is ``display``, where ``changed``; elsewhere the original.

    Raises:
        ValueError: Stored values that are not integers of at most 16 bits (no table to invert).
    """
    if stored.dtype.kind not in "ui" or stored.dtype.itemsize > 2:
        raise ValueError(f"stored values of type {stored.dtype} cannot be written back (16-bit integers at most)")
    lo, hi = int(stored.min()), int(stored.max())
    values = np.arange(lo, hi + 1, dtype=np.int64)
    table, _ = to_display(values.astype(stored.dtype)[None, :], ds)
    table = table[0].astype(np.float64)
    increasing = table[-1] >= table[0]
    order = table if increasing else table[::-1]
    want = np.asarray(display, dtype=np.float64)[changed]
    k = np.clip(np.searchsorted(order, want), 1, len(order) - 1)
    k = np.where(np.abs(order[k - 1] - want) <= np.abs(order[k] - want), k - 1, k)  # the nearer neighbour
    k = k if increasing else len(order) - 1 - k
    out = stored.copy()
    out[changed] = values[k].astype(stored.dtype)
    return out


def write_inserted_dicom(
    source: str | os.PathLike[str], target: str | os.PathLike[str], display: np.ndarray, changed: np.ndarray, entropy: list[str]
) -> Path:
    """Write ``source`` with its pixels changed to ``display`` (where ``changed``), de-identified, as ``target``.

    Args:
        source: The real film (DICOM).
        target: The file to write.
        display: The new display values (H x W, as ``load_image`` gives them).
        changed: Where they differ from the source's.
        entropy: Strings that make the new UIDs (seed, input, index): the same job gives the same UIDs.
    """
    ds = read_dataset(source)
    stored = ds.pixel_array
    if stored.ndim != 2:
        raise ValueError("only single-frame greyscale DICOM can be written back")
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
    new = stored_from_display(ds, stored, display, changed)
    for keyword in PHI_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    ds.remove_private_tags()
    for keyword in _TYPE_2:  # present, empty: the IOD requires them
        setattr(ds, keyword, "")

    def uid(kind: str) -> str:
        return generate_uid(prefix=_UID_ROOT, entropy_srcs=[*entropy, kind])

    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study"), uid("series")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("sop")
    pseudonym = uid("patient").rsplit(".", 1)[-1][-10:]
    ds.PatientName, ds.PatientID = f"INSERTED^{pseudonym}", f"INS{pseudonym}"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "cxr-miliary insert: identifiers removed, new UIDs"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.BurnedInAnnotation = ds.get("BurnedInAnnotation", "NO")
    ds.PixelData = np.ascontiguousarray(new).tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    with atomic_path(target) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return Path(target)
