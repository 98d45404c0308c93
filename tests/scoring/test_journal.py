"""The journal: durable rows, torn lines cut, one writer per output."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cxr_miliary.scoring.journal import Journal, JournalBusy, journal_path


def test_rows_survive_a_torn_line_and_resume(tmp_path):
    out = tmp_path / "s.csv"
    j = Journal(out)
    j.append([{"path": "a", "probability": 0.5}, {"path": "b", "probability": float("nan")}])
    j.close()
    with open(journal_path(out), "ab") as fh:
        fh.write(b'{"path": "c", "proba')  # killed mid-write
    j = Journal(out, resume=True)
    rows = list(j.rows())
    assert [r["path"] for r in rows] == ["a", "b"] and rows[1]["probability"] is None  # strict JSON: NaN became null
    j.append([{"path": "d"}])
    assert [r["path"] for r in j.rows()] == ["a", "b", "d"]
    j.discard()
    assert not journal_path(out).exists()


def test_a_fresh_run_starts_empty(tmp_path):
    out = tmp_path / "s.jsonl"
    j = Journal(out)
    j.append([{"path": "old"}])
    j.close()
    j = Journal(out, resume=False)
    assert list(j.rows()) == []
    j.close()


def test_second_writer_is_refused_until_the_first_is_gone(tmp_path):
    out = tmp_path / "s.csv"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                f"import sys, time; sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
                "from pathlib import Path\n"
                "from cxr_miliary.scoring.journal import Journal\n"
                f"j = Journal(Path({str(out)!r})); print('locked', flush=True); time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(JournalBusy, match="another 'score' run"):
            Journal(out, resume=True)
    finally:
        holder.kill()
        holder.wait()
    Journal(out, resume=True).close()  # the kernel released the dead process's lock


def test_forked_workers_of_a_killed_run_do_not_keep_the_lock(tmp_path):
    """score forks decode workers; when the run is SIGKILLed they may linger a moment, lock-free."""
    out = tmp_path / "s.csv"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                f"import os, sys, time; sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
                "from pathlib import Path\n"
                "from cxr_miliary.scoring.journal import Journal\n"
                f"j = Journal(Path({str(out)!r}))\n"
                "pid = os.fork()\n"
                "if pid == 0:\n    time.sleep(30); os._exit(0)\n"
                "print(pid, flush=True); time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = int(holder.stdout.readline())
    try:
        holder.kill()
        holder.wait()
        os.kill(worker, 0)  # the forked worker is still alive ...
        Journal(out, resume=True).close()  # ... and the output is free
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
