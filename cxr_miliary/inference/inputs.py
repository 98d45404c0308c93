"""Expand ``score`` inputs: files, folders (recursive, DICOM recognised by content), list files."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

IMAGE_SUFFIXES = {".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
LIST_SUFFIXES = {".txt", ".lst", ".list", ".csv"}


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _from_folder(folder: Path) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            if p.suffix.lower() in IMAGE_SUFFIXES or (not name.startswith(".") and _is_dicom(p)):
                yield str(p)


def _from_list(path: Path) -> Iterator[str]:
    base = path.parent
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            col = next((c for c in (reader.fieldnames or []) if c.strip().lower() == "path"), None)
            if col is None:
                raise ValueError(f"{path}: a CSV list needs a 'path' column")
            for row in reader:
                if row[col].strip():
                    yield str(_resolve(row[col].strip(), base))
        return
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                yield str(_resolve(line, base))


def _resolve(p: str, base: Path) -> Path:
    q = Path(p)
    return q if q.is_absolute() else base / q


def expand_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Every input file, in a stable order.

    Folders are walked recursively (image suffixes, plus any file that is DICOM by
    content); ``.txt``/``.lst`` files list one path per line and ``.csv`` files need a
    ``path`` column (relative paths are relative to the list file); anything else is an
    input in its own right — if it is missing or unreadable, it becomes an error row.
    """
    out: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(_from_folder(p))
        elif p.is_file() and p.suffix.lower() in LIST_SUFFIXES and not _is_dicom(p):
            out.extend(_from_list(p))
        else:
            out.append(str(p))
    return out
