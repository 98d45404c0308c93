"""A results table read for the review page: every row kept, a malformed one as an error row, nothing trusted.

``score`` writes CSV, Parquet or JSONL; the node writes ``results.jsonl``. The page shows
what the rows say, so reading is per row where ``read_output`` reads a whole file: a value that
does not parse (a probability that is not a number, a line that is not JSON) makes that
row an error row naming the problem, and the other rows are shown as written. Text is
only ever data here; the page puts it on screen as text (never as markup).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..lung_zones import ZONE_NAMES

#: Separator of the reasons and warnings columns (``score``'s own).
SEP = " | "
#: Longest text kept of one field (a 300-character name is shown whole; a megabyte is not).
MAX_TEXT = 2000


class ResultsError(ValueError):
    """A results file that cannot be read at all (missing, not a results table)."""


def _text(v: Any) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= MAX_TEXT else s[:MAX_TEXT] + "…"


def _split(v: Any) -> list[str]:
    return [_text(p.strip()) for p in str(v or "").split(SEP) if p.strip()]


def reason_code(text: str) -> str:
    """``out-of-distribution`` from ``out-of-distribution: distance 61.6 ...``; ``other`` when the text has no code."""
    head = text.split(":", 1)[0].strip()
    return head if head and len(head) <= 40 and all(c.isalnum() or c == "-" for c in head) else "other"


def _number(v: Any) -> float | None:
    if v is None or v == "":
        return None
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(f"{v!r} is not a finite number")
    return x


def _flag(v: Any) -> bool | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    if str(v) in ("True", "true", "1"):
        return True
    if str(v) in ("False", "false", "0"):
        return False
    raise ValueError(f"{v!r} is not true or false")


def page_row(i: int, raw: dict[str, Any]) -> dict[str, Any]:
    """One table row as the page shows it (short keys: 10,000 rows stay a small page).

    A value that does not parse makes the row an error row that says which column.
    """
    name = _text(raw.get("path") or (f"film {str(raw.get('key'))[:12]}" if raw.get("key") else f"row {i + 1}"))
    row: dict[str, Any] = {"i": i, "n": name, "e": _text(raw.get("error") or "")}
    column = "probability"
    try:
        row["p"] = _number(raw.get("probability"))
        column = "positive"
        row["y"] = _flag(raw.get("positive"))
        column = "reliable"
        row["r"] = _flag(raw.get("reliable"))
        zones = {}
        for z in ZONE_NAMES:
            column = z
            zones[z] = _number(raw.get(z))
        row["z"] = {z: v for z, v in zones.items() if v is not None}
    except (TypeError, ValueError):
        row.update(p=None, y=None, r=None, z={}, e=f"malformed-row: its {column} is {_text(raw.get(column))[:40]!r}, not a value score writes")
    row["rs"] = _split(raw.get("reasons"))
    row["w"] = _split(raw.get("warnings"))
    row["c"] = sorted({reason_code(t) for t in row["rs"]} | ({reason_code(row["e"])} if row["e"] else set()))
    row["pt"] = _text(raw.get("pattern") or "")
    row["ov"] = _text(raw.get("overlay_path") or "")
    return row


def read_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """The raw rows of a results file (CSV, Parquet, JSONL); a line that is not JSON is an error row.

    Raises:
        ResultsError: The file is missing or not a results table of a known format.
    """
    p = Path(path)
    if not p.is_file():
        raise ResultsError(f"{p}: no such results file")
    suffix = p.suffix.lower()
    if suffix == ".jsonl":
        with open(p, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    value = None
                yield value if isinstance(value, dict) else {"error": f"malformed-row: line {n} is not a JSON object"}
    elif suffix == ".csv":
        with open(p, newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "probability" not in reader.fieldnames:
                raise ResultsError(f"{p}: not a results table (no probability column)")
            for r in reader:
                r.pop(None, None)  # a line with more fields than the header
                yield r  # text: page_row types it, and says which column did not parse
    elif suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(p).iter_batches(batch_size=10_000):
                yield from batch.to_pylist()
        except Exception as exc:  # pyarrow's errors for a file that is not Parquet
            raise ResultsError(f"{p}: not a readable Parquet file ({type(exc).__name__})") from None
    else:
        raise ResultsError(f"{p}: results must be .csv, .parquet or .jsonl (as score and serve write them)")
