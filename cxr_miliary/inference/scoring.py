"""``score``: many inputs -> one table, resumable, with a progress bar."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from .batch import BASE_COLUMNS, CAM_COLUMNS, score_rows
from .journal import FORMATS, Journal, finalise, journal_path, read_output, read_rows

if TYPE_CHECKING:
    from .predictor import Predictor

log = logging.getLogger(__name__)


class ScoreError(Exception):
    """A scoring job that cannot start (bad output name, mixed models on resume)."""


def columns_for(cam: bool, cam_dir: Any, dicom_out: Any = None) -> list[str]:
    """Output columns: the base ones, plus distribution (and file) columns with CAM."""
    cols = list(BASE_COLUMNS)
    if cam or cam_dir is not None or dicom_out is not None:
        cols += [c for c in CAM_COLUMNS if cam_dir is not None or c not in ("cam_path", "overlay_path")]
    if dicom_out is not None:
        cols.append("dicom_outputs")
    return cols


def score_to_file(
    predictor: Predictor,
    paths: list[str],
    out: str | os.PathLike[str],
    *,
    batch_size: int = 16,
    num_workers: int = 2,
    cam: bool = False,
    cam_dir: str | os.PathLike[str] | None = None,
    cam_method: str = "gradcam",
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    dicom_out: str | os.PathLike[str] | None = None,
) -> dict[str, int]:
    """Score ``paths`` into ``out`` (.csv, .parquet or .jsonl): exactly one row per input.

    Rows are journaled per batch (fsync), so a killed run loses nothing finished; with
    ``resume`` the inputs already present in ``out`` or its journal are skipped. The
    output file is replaced atomically at the end.

    Returns:
        ``{"rows": n, "errors": n_error_rows, "scored_now": n}``.
    """
    out = Path(out)
    if out.suffix not in FORMATS:
        raise ScoreError(f"{out}: the output must end in {', '.join(FORMATS)}")
    journal = journal_path(out)
    if not resume:
        journal.unlink(missing_ok=True)
    previous = list(read_output(out)) if resume else []
    journaled = list(read_rows(journal)) if resume else []
    for row in previous + journaled:
        if row.get("model_sha256") and row["model_sha256"] != predictor.model_info["sha256"]:
            raise ScoreError(f"{out} holds rows from another model (sha256 {str(row['model_sha256'])[:12]}…); write to a new file")
    done = {r["path"] for r in previous} | {r["path"] for r in journaled}
    todo = [p for p in paths if p not in done]
    cols = columns_for(cam, cam_dir, dicom_out)
    errors = sum(1 for r in previous + journaled if r.get("error"))
    scored = 0
    writer = Journal(out)
    bar = tqdm(total=len(paths), initial=len(paths) - len(todo), desc="score", unit="img", disable=not progress, dynamic_ncols=True)
    try:
        for rows in score_rows(predictor, todo, batch_size=batch_size, num_workers=num_workers, cam=cam, cam_dir=cam_dir, cam_method=cam_method, force=force, dicom_out=dicom_out):
            writer.append(rows)
            scored += len(rows)
            errors += sum(1 for r in rows if r["error"])
            bar.update(len(rows))
            bar.set_postfix(errors=errors)
    finally:
        writer.close()
        bar.close()
    # old output first, then the journal (which holds this run's rows and any earlier
    # journaled ones); paths are unique across the two by construction
    seen: set[str] = set()

    def merged() -> Iterator[dict[str, Any]]:
        for r in itertools.chain(previous, read_rows(journal)):
            if r["path"] not in seen:
                seen.add(r["path"])
                yield r

    finalise(out, merged(), cols)
    journal.unlink(missing_ok=True)
    return {"rows": len(seen), "errors": errors, "scored_now": scored}
