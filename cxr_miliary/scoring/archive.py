"""``score``: many inputs -> one table, resumable, exclusive, with a progress bar."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..inference.scorer import Scorer
from ..outputs.paths import OutputPathError, check_dir_target, check_file_target, check_not_inputs
from .inputs import expand_inputs
from .journal import Journal, JournalBusy
from .options import ScoreOptions
from .stream import score_rows
from .table import FORMATS, columns_for, read_output, stored_path, write_table

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


class ScoreError(Exception):
    """A scoring job that cannot start (bad output name, busy output, mixed models on resume)."""


def check_outputs(
    out: str | os.PathLike[str] | None, cam_dir: Any = None, dicom_out: Any = None, *, inputs: list[str] | None = None, given: list[Any] | None = None
) -> None:
    """Every output path of a scoring job, checked before any work starts.

    With the job's inputs (``given`` as typed, ``inputs`` expanded), no output may be an
    input (a table written over its own manifest) and no output folder may lie inside a
    folder being scored (its files would be read as inputs by the next run).

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
        if given is not None:
            check_not_inputs({"--out": out}, {"--cam-dir": cam_dir, "--dicom-out": dicom_out}, given, inputs or [])
    except OutputPathError as exc:
        raise ScoreError(str(exc)) from None


def _scorer(model: Any) -> Scorer:
    """A Scorer from a Scorer or a Predictor (the first API passed the Predictor)."""
    return model if isinstance(model, Scorer) else model.scorer


def score_to_file(model: Any, paths: list[str], out: str | os.PathLike[str], options: ScoreOptions | None = None, **keywords: Any) -> dict[str, int]:
    """Score ``paths`` into ``out`` (.csv, .parquet or .jsonl): exactly one row per distinct input.

    Rows are journaled per batch (fsync), so a killed run loses nothing finished; with
    ``resume`` the inputs already present in ``out`` or its journal are skipped. The
    journal is locked for the run (a second run to the same ``out`` refuses at once).
    The output file is replaced atomically at the end. The same path given twice is
    scored once.

    Args:
        model: A :class:`~cxr_miliary.inference.scorer.Scorer` (or a Predictor).
        paths: Input files (expanded).
        out: The table.
        options: How the job runs (:class:`~cxr_miliary.scoring.options.ScoreOptions`;
            ``resume`` skips inputs already in ``out`` or its journal).
        **keywords: Fields of ``options`` to change.

    Returns:
        ``{"rows", "errors", "scored_now", "duplicates"}``.

    Raises:
        ScoreError: Bad output path, busy output, or rows of another model on resume.
    """
    scorer = _scorer(model)
    opts = ScoreOptions.of(options, **keywords)
    outputs, resume, progress = opts.outputs, opts.resume, opts.progress
    out = Path(out)
    check_outputs(out, outputs.cam_dir, outputs.dicom_out)
    unique = list(dict.fromkeys(paths))
    try:
        journal = Journal(out, resume=resume)
    except JournalBusy as exc:
        raise ScoreError(str(exc)) from None
    try:
        previous = list(read_output(out)) if resume else []
        journaled = list(journal.rows())
        for row in previous + journaled:
            if row.get("model_sha256") and row["model_sha256"] != scorer.model["sha256"]:
                raise ScoreError(f"{out} holds rows from another model (sha256 {str(row['model_sha256'])[:12]}…); write to a new file")
        done = {r["path"] for r in previous} | {r["path"] for r in journaled}
        todo = [p for p in unique if stored_path(p, out.suffix) not in done and p not in done]
        errors = sum(1 for r in previous + journaled if r.get("error"))
        scored = 0
        bar = tqdm(total=len(unique), initial=len(unique) - len(todo), desc="score", unit="img", disable=not progress, dynamic_ncols=True)
        # log lines written while the bar is drawn go through tqdm.write, each on its own line
        with logging_redirect_tqdm(), contextlib.ExitStack() as stack:
            stack.callback(bar.close)
            for rows in score_rows(scorer, todo, opts):
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

        write_table(out, merged(), columns_for(outputs.maps, outputs.cam_dir, outputs.dicom_out))
        journal.discard()
    finally:
        journal.close()
    return {"rows": len(seen), "errors": errors, "scored_now": scored, "duplicates": len(paths) - len(unique)}


def score_table(model: Any, paths: list[Any], options: ScoreOptions | None = None, *, out: Any = None, **keywords: Any) -> pd.DataFrame:
    """``Predictor.score``: the rows as a DataFrame, in memory or through ``out`` (see :func:`score_to_file`).

    Args:
        model: A :class:`~cxr_miliary.inference.scorer.Scorer` (or a Predictor).
        paths: Files, folders and list files (expanded here).
        options: How the job runs (:class:`~cxr_miliary.scoring.options.ScoreOptions`).
        out: A table to write through (journaled, resumable), or None (in memory).
        **keywords: Fields of ``options`` to change.
    """
    import pandas as pd  # the table's type; not imported at start: predict never needs it (cold start)

    scorer = _scorer(model)
    opts = ScoreOptions.of(options, **keywords)
    outputs = opts.outputs
    files = list(dict.fromkeys(expand_inputs(paths)))
    check_outputs(out, outputs.cam_dir, outputs.dicom_out, inputs=files, given=list(paths))
    cols = columns_for(outputs.maps, outputs.cam_dir, outputs.dicom_out)
    if out is None:
        rows = [r for batch in score_rows(scorer, files, opts) for r in batch]
        return pd.DataFrame(rows, columns=cols)
    score_to_file(scorer, files, out, opts)
    return pd.DataFrame(list(read_output(Path(out))), columns=cols)
