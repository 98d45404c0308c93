r"""The ``score`` output table: its columns and types, and writing / reading it in three formats.

One row per input. Columns (in order):

- ``path``: the input as given (see *file names* below).
- ``probability``, ``positive``, ``threshold``: the calibrated result (empty on error rows).
- ``error``: empty, or ``<code>: <reason>`` (the codes ``load_image`` and the integrity
  checks use, plus ``timeout``, ``not-a-file``, ``decoder-crashed``).
- ``frontal_chest``, ``in_distribution``, ``ood_score``, ``reliable``: the integrity
  checks (:mod:`cxr_miliary.inference.integrity`); ``reasons``: their reasons
  (``code: words``, joined by `` | ``).
- ``warnings``: what ``predict`` prints as warnings for the same image (decoder notes,
  integrity, the map, resolution; no identifiers), joined by `` | ``.
- ``model_name``, ``model_sha256``, ``model_runtime``: which model answered, and how.
- ``image_rows``, ``image_columns``: the decoded image's size (evaluation groups by source resolution).
- ``region``: ``x0,y0,x1,y1``, the part of the film the network read (the lung box for a
  lung-region bundle; the whole film otherwise, or when it fell back).
- with a map: ``pattern``, ``right``, ``left``, the six zones; with ``--cam-dir`` also
  ``cam_path`` and ``overlay_path``; with ``--dicom-out`` ``dicom_outputs``.

*File names* that are not valid UTF-8 (possible on POSIX file systems) are written
losslessly: in JSONL as JSON strings with lone-surrogate escapes (``os.fsencode`` of the
string gives the original bytes back); in CSV and Parquet, which must be UTF-8, every
undecodable byte is written as ``\\xNN`` (``escape_path``). ``--resume`` compares paths in
that same written form.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import strict_json
from ..atomic import atomic_path
from ..lung_zones import ZONE_NAMES
from ..outputs.files import maps_needed

FORMATS = (".csv", ".parquet", ".jsonl")
BASE_COLUMNS = [
    "path",
    "probability",
    "positive",
    "threshold",
    "error",
    "frontal_chest",
    "in_distribution",
    "ood_score",
    "reliable",
    "reasons",
    "warnings",
    "model_name",
    "model_sha256",
    "model_runtime",
    "image_rows",
    "image_columns",
    "region",
]
DISTRIBUTION_COLUMNS = ["pattern", "right", "left", *ZONE_NAMES]
FILE_COLUMNS = ["cam_path", "overlay_path"]
#: Kept for callers of the first API.
CAM_COLUMNS = DISTRIBUTION_COLUMNS + FILE_COLUMNS
_FLOAT = {"probability", "threshold", "left", "right", "ood_score", *ZONE_NAMES}
_INT = {"image_rows", "image_columns"}
_BOOL = {"positive", "frontal_chest", "in_distribution", "reliable"}


def columns_for(cam: bool, cam_dir: Any = None, dicom_out: Any = None) -> list[str]:
    """Output columns: the base ones, plus distribution (and file) columns with a map."""
    cols = list(BASE_COLUMNS)
    if maps_needed(cam, cam_dir, dicom_out):
        cols += DISTRIBUTION_COLUMNS
    if cam_dir is not None:
        cols += FILE_COLUMNS
    if dicom_out is not None:
        cols.append("dicom_outputs")
    return cols


def escape_path(path: str) -> str:
    r"""A path as CSV/Parquet store it: undecodable bytes (surrogate escapes) as ``\\xNN``."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def stored_path(path: str, fmt: str) -> str:
    """How ``path`` appears in an output of format ``fmt`` (``.csv``, ``.parquet``, ``.jsonl``)."""
    return path if fmt == ".jsonl" else escape_path(path)


def to_json(row: dict[str, Any]) -> str:
    """One row as strict JSON (no NaN or Infinity: they become null)."""
    return strict_json.dumps(row)


def _finite(v: Any) -> Any:
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file; a torn (incomplete) last line is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        yield from parse_jsonl(fh)


def parse_jsonl(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Rows of JSONL text lines; a torn (incomplete) last line is skipped."""
    for line in lines:
        if not line.endswith("\n"):
            break  # torn by a kill mid-write
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue


def read_output(out: Path) -> Iterator[dict[str, Any]]:
    """Rows of a finished output file of any supported format, typed as written."""
    if not out.exists():
        return
    if out.suffix == ".jsonl":
        yield from read_jsonl(out)
    elif out.suffix == ".csv":
        with open(out, newline="", encoding="utf-8") as fh:
            yield from (normalise_row(r) for r in csv.DictReader(fh))
    else:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(out).iter_batches(batch_size=10_000):
            yield from batch.to_pylist()


def normalise_row(row: dict[str, Any]) -> dict[str, Any]:
    """Types back from CSV text: numbers as floats, booleans as bool, empty as None."""
    out: dict[str, Any] = {}
    for c, v in row.items():
        if v == "" or v is None:
            out[c] = None if c != "error" else ""
        elif c in _FLOAT:
            out[c] = float(v)
        elif c in _INT:
            out[c] = int(float(v))
        elif c in _BOOL:
            out[c] = str(v) == "True"
        else:
            out[c] = v
    return out


def write_table(out: Path, rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` to ``out`` atomically in the format its suffix names (flat memory).

    A failure leaves no partial file: the table is written under a temporary name and
    renamed into place only when complete.
    """
    with atomic_path(out) as tmp:
        if out.suffix == ".jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(to_json({c: r.get(c) for c in columns}) + "\n")
        elif out.suffix == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                for r in rows:
                    writer.writerow({c: _csv_cell(c, r.get(c)) for c in columns})
        else:
            _write_parquet(tmp, rows, columns)


def _csv_cell(column: str, v: Any) -> Any:
    v = _finite(v)
    if v is None:
        return ""
    return escape_path(v) if column == "path" and isinstance(v, str) else v


def _write_parquet(tmp: Path, rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def kind(c: str) -> Any:
        return pa.float64() if c in _FLOAT else pa.int64() if c in _INT else pa.bool_() if c in _BOOL else pa.string()

    schema = pa.schema([(c, kind(c)) for c in columns])
    writer = pq.ParquetWriter(tmp, schema)
    chunk: list[dict[str, Any]] = []

    def cell(c: str, v: Any) -> Any:
        v = _finite(v)
        if v == "" and c != "error":
            return None
        return escape_path(v) if c == "path" and isinstance(v, str) else v

    def flush() -> None:
        writer.write_table(pa.Table.from_pylist([{c: cell(c, r.get(c)) for c in columns} for r in chunk], schema=schema))
        chunk.clear()

    try:
        for r in rows:
            chunk.append(r)
            if len(chunk) >= 10_000:
                flush()
        flush()
    finally:
        writer.close()
