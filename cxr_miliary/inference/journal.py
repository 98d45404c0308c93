"""Crash-safe result storage for ``score``: an append-only JSONL journal, then an atomic output.

Rows are appended to ``<out>.journal.jsonl`` and flushed + fsynced after every batch, so
a run killed at any moment (even SIGKILL) loses at most the batch in flight. A torn last
line is ignored when the journal is read back. The final CSV / Parquet / JSONL file is
written to a temporary name and renamed into place, so it is either complete or absent.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORMATS = (".csv", ".parquet", ".jsonl")


def journal_path(out: Path) -> Path:
    """The journal that backs ``out``."""
    return out.with_name(out.name + ".journal.jsonl")


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file; a torn (incomplete) line is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # torn by a kill mid-write
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def read_output(out: Path) -> Iterator[dict[str, Any]]:
    """Rows of a finished output file of any supported format."""
    if not out.exists():
        return
    if out.suffix == ".jsonl":
        yield from read_rows(out)
    elif out.suffix == ".csv":
        with open(out, newline="", encoding="utf-8") as fh:
            yield from (normalise_row(r) for r in csv.DictReader(fh))
    else:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(out).iter_batches(batch_size=10_000):
            yield from batch.to_pylist()


class Journal:
    """Append rows batch by batch; durable after every :meth:`append`."""

    def __init__(self, out: Path) -> None:
        self.path = journal_path(out)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self.fh = open(self.path, "a", encoding="utf-8")

    def _repair(self) -> None:
        """Cut a torn last line left by a killed run, so appends start on a fresh line."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write rows and make them durable."""
        if not rows:
            return
        self.fh.write("".join(json.dumps(r, default=_json_default) + "\n" for r in rows))
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self.fh.close()


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def finalise(out: Path, rows: Iterator[dict[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` to ``out`` atomically in the format its suffix names (flat memory)."""
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix == ".jsonl":
        with open(tmp, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({c: r.get(c) for c in columns}, default=_json_default) + "\n")
    elif out.suffix == ".csv":
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for r in rows:
                writer.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in columns})
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        chunk: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal writer
            table = pa.Table.from_pylist([{c: _cell(r.get(c)) for c in columns} for r in chunk], schema=_schema(columns))
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            chunk.clear()

        for r in rows:
            chunk.append(r)
            if len(chunk) >= 10_000:
                flush()
        if chunk or writer is None:
            flush()
        writer.close()
    os.replace(tmp, out)


_NUMERIC = {"probability", "threshold", "left", "right", "rows", "columns"}


def _schema(columns: list[str]):  # noqa: ANN202
    import pyarrow as pa

    def kind(c: str):  # noqa: ANN202
        if _is_numeric(c):
            return pa.float64()
        if c == "positive":
            return pa.bool_()
        return pa.string()

    return pa.schema([(c, kind(c)) for c in columns])


def _cell(v: Any) -> Any:
    return None if v == "" else v


def _is_numeric(c: str) -> bool:
    return c in _NUMERIC or c.startswith(("right-", "left-"))


def normalise_row(row: dict[str, Any]) -> dict[str, Any]:
    """Types back from CSV text: numbers as floats, ``positive`` as bool, empty as None."""
    out: dict[str, Any] = {}
    for c, v in row.items():
        if v == "" or v is None:
            out[c] = None if c != "error" else ""
        elif _is_numeric(c):
            out[c] = float(v)
        elif c == "positive":
            out[c] = str(v) == "True"
        else:
            out[c] = v
    return out
