"""Crafted DICOM films for the node's hostile tests: what a hostile or broken peer sends."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

DX = "1.2.840.10008.5.1.4.1.1.1.1"
CR = "1.2.840.10008.5.1.4.1.1.1"

#: name -> what is done to a good film's data set (the file meta keeps valid UIDs, as a C-STORE command would)
POISON = {
    "no-series": lambda ds: delattr(ds, "SeriesInstanceUID"),
    "no-sop-class": lambda ds: delattr(ds, "SOPClassUID"),
    "no-sop-instance": lambda ds: delattr(ds, "SOPInstanceUID"),
    "sop-class-hello": lambda ds: setattr(ds, "SOPClassUID", "hello"),
    "two-series": lambda ds: setattr(ds, "SeriesInstanceUID", ["1.2.3.4", "1.2.3.5"]),
    "study-path": lambda ds: setattr(ds, "StudyInstanceUID", "../../.."),
    "study-text": lambda ds: setattr(ds, "StudyInstanceUID", "free text"),
    "study-nul": lambda ds: setattr(ds, "StudyInstanceUID", "1.2\x003.4"),
    "study-302": lambda ds: setattr(ds, "StudyInstanceUID", "1." + "2" * 300),
    "study-empty": lambda ds: setattr(ds, "StudyInstanceUID", ""),
    "no-study": lambda ds: delattr(ds, "StudyInstanceUID"),
}


def variant(src: Path, dst: Path, change=None, **values) -> Path:
    """A copy of ``src`` with ``change(ds)`` applied and ``values`` set; the file meta is left as it was."""
    ds = pydicom.dcmread(src)
    if change is not None:
        change(ds)
    for k, v in values.items():
        setattr(ds, k, v)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst, enforce_file_format=False)
    return dst


def copy(src: Path, dst: Path) -> Path:
    """A byte-for-byte copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def header(path: Path) -> Dataset:
    """A file's header (no pixels)."""
    return pydicom.dcmread(path, stop_before_pixels=True)
