"""``score``: many inputs -> one table, resumable, exclusive, with a progress bar."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..outputs.paths import OutputPathError, check_dir_target, check_file_target
from .batch import FILE_TIMEOUT_S, score_rows
from .inputs import expand_inputs
from .journal import Journal, JournalBusy
from .table import FORMATS, columns_for, read_output, stored_path, write_table

log = logging.getLogger(__name__)


class ScoreError(Exception):
    """A scoring job that cannot start (bad output name, busy output, mixed models on resume)."""


def check_outputs(out: str | os.PathLike[str] | None, cam_dir: Any = None, dicom_out: Any = None) -> None:
    """Every output path of a scoring job, checked before any work starts.

    Raises:
        ScoreError: Naming the path and why it cannot be written.
    """
    try:
        if out is not None:
            check_file_target(out, "the score table")
            if Path(out).suffix not in FORMATS:
                raise OutputPathError(f"{out}: the output must end in {', '.join(FORMATS)}")

        if cam_dir is not None:
            check_dir_target(cam_dir, "--cam-dir")
        if dicom_out is not None:
            check_dir_target(dicom_out, "--dicom-out")
    except OutputPathError as exc:
        raise ScoreError(str(exc)) from None


def score_to_file(
    predictor: Any,
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
    file_timeout: float | None = FILE_TIMEOUT_S,
) -> dict[str, int]:
    """Score ``paths`` into ``out`` (.csv, .parquet or .jsonl): exactly one row per distinct input.

    Rows are journaled per batch (fsync), so a killed run loses nothing finished; with
    ``resume`` the inputs already present in ``out`` or its journal are skipped. The
    journal is locked for the run (a second run to the same ``out`` refuses at once).
    The output file is replaced atomically at the end. The same path given twice is
    scored once.

    Returns:
        ``{"rows", "errors", "scored_now", "duplicates"}``.

    Raises:
        ScoreError: Bad output path, busy output, or rows of another model on resume.
    """
    out = Path(out)
    check_outputs(out, cam_dir, dicom_out)
    unique = list(dict.fromkeys(paths))
    try:
        journal = Journal(out, resume=resume)
    except JournalBusy as exc:
        raise ScoreError(str(exc)) from None
    try:
        previous = list(read_output(out)) if resume else []
        journaled = list(journal.rows())
        for row in previous + journaled:
            if row.get("model_sha256") and row["model_sha256"] != predictor.model_info["sha256"]:
                raise ScoreError(f"{out} holds rows from another model (sha256 {str(row['model_sha256'])[:12]}…); write to a new file")
        done = {r["path"] for r in previous} | {r["path"] for r in journaled}
        todo = [p for p in unique if stored_path(p, out.suffix) not in done and p not in done]
        errors = sum(1 for r in previous + journaled if r.get("error"))
        scored = 0
        bar = tqdm(total=len(unique), initial=len(unique) - len(todo), desc="score", unit="img", disable=not progress, dynamic_ncols=True)
        # log lines written while the bar is drawn go through tqdm.write, each on its own line
        with logging_redirect_tqdm(), contextlib.ExitStack() as stack:
            stack.callback(bar.close)
            for rows in score_rows(
                predictor,
                todo,
                batch_size=batch_size,
                num_workers=num_workers,
                cam=cam,
                cam_dir=cam_dir,
                cam_method=cam_method,
                force=force,
                dicom_out=dicom_out,
                file_timeout=file_timeout,
            ):
                journal.append(rows)
                scored += len(rows)
                errors += sum(1 for r in rows if r["error"])
                bar.update(len(rows))
                bar.set_postfix(errors=errors)
        seen: set[str] = set()

        def merged() -> Iterator[dict[str, Any]]:
            # the old output first, then the journal (this run's rows and any earlier ones)
            for r in itertools.chain(previous, journal.rows()):
                key = stored_path(r["path"], out.suffix)
                if key not in seen:
                    seen.add(key)
                    yield r

        write_table(out, merged(), columns_for(cam, cam_dir, dicom_out))
        journal.discard()
    finally:
        journal.close()
    return {"rows": len(seen), "errors": errors, "scored_now": scored, "duplicates": len(paths) - len(unique)}


def score_table(
    predictor: Any,
    paths: list[Any],
    *,
    batch_size: int = 16,
    num_workers: int = 2,
    cam: bool = False,
    cam_dir: Any = None,
    out: Any = None,
    resume: bool = False,
    cam_method: str = "gradcam",
    force: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """``Predictor.score``: the rows as a DataFrame, in memory or through ``out``."""
    files = list(dict.fromkeys(expand_inputs(paths)))
    cols = columns_for(cam, cam_dir)
    if out is None:
        check_outputs(None, cam_dir)
        rows = [
            r
            for batch in score_rows(
                predictor, files, batch_size=batch_size, num_workers=num_workers, cam=cam, cam_dir=cam_dir, cam_method=cam_method, force=force
            )
            for r in batch
        ]
        return pd.DataFrame(rows, columns=cols)
    score_to_file(
        predictor,
        files,
        out,
        batch_size=batch_size,
        num_workers=num_workers,
        cam=cam,
        cam_dir=cam_dir,
        cam_method=cam_method,
        force=force,
        resume=resume,
        progress=progress,
    )
    return pd.DataFrame(list(read_output(Path(out))), columns=cols)
