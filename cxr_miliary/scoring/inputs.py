"""Expand ``score`` inputs: files, folders (recursive, DICOM recognised by content), list files.

Nothing that is not a regular file is ever opened while expanding (a FIFO would block
forever): folders are walked with ``stat``, and special files found in them become
inputs of their own, which ``load_image`` turns into ``not-a-file`` error rows.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..io.files import is_part10, legacy_dicom_encoding

IMAGE_SUFFIXES = {".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
LIST_SUFFIXES = {".txt", ".lst", ".list", ".csv"}


class InputListError(ValueError):
    """A list file that cannot be read (it names the file and the reason)."""


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _is_dicom(path: Path, size: int) -> bool:
    """DICOM by content: Part 10 prefix or a legacy data set (regular files only)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return is_part10(head) or legacy_dicom_encoding(head, size) is not None


def _from_folder(folder: Path) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            st = _stat(p)
            if st is None or not stat.S_ISREG(st.st_mode):
                # a dangling link, a FIFO, socket or device: an input that will say why it is not one
                if not name.startswith("."):
                    yield str(p)
            elif p.suffix.lower() in IMAGE_SUFFIXES or (not name.startswith(".") and _is_dicom(p, st.st_size)):
                yield str(p)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputListError(f"{path}: the list file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise InputListError(f"{path}: the list file cannot be read ({exc.strerror or exc})") from None


def _from_list(path: Path) -> Iterator[str]:
    base = path.parent
    lines = _lines(path)
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(lines)
        col = next((c for c in (reader.fieldnames or []) if c.strip().lower() == "path"), None)
        if col is None:
            raise InputListError(f"{path}: a CSV list needs a 'path' column")
        for row in reader:
            value = (row.get(col) or "").strip()
            if value:
                yield str(_resolve(value, base))
        return
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            yield str(_resolve(line, base))


def _resolve(p: str, base: Path) -> Path:
    q = Path(p)
    return q if q.is_absolute() else base / q


def expand_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Every input file, in a stable order.

    Folders are walked recursively (image suffixes, plus any regular file that is DICOM
    by content, plus special files, which become error rows); ``.txt``/``.lst`` files
    list one path per line and ``.csv`` files need a ``path`` column (relative paths are
    relative to the list file); anything else is an input in its own right: if it is
    missing or unreadable, it becomes an error row.

    Raises:
        InputListError: A list file that is not UTF-8 text or lacks a ``path`` column.
    """
    out: list[str] = []
    for item in inputs:
        p = Path(item)
        st = _stat(p)
        if st is not None and stat.S_ISDIR(st.st_mode):
            out.extend(_from_folder(p))
        elif st is not None and stat.S_ISREG(st.st_mode) and p.suffix.lower() in LIST_SUFFIXES and not _is_dicom(p, st.st_size):
            out.extend(_from_list(p))
        else:
            out.append(os.fspath(item))
    return out
