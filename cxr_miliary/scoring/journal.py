"""Crash-safe, exclusive result storage for ``score``: an append-only JSONL journal.

Rows are appended to ``<out>.journal.jsonl`` and flushed + fsynced after every batch, so
a run killed at any moment (even SIGKILL) loses at most the batch in flight. A torn last
line is cut when the journal is opened again. The journal is held under an exclusive
POSIX record lock (``lockf``) for the whole run: a second run writing to the same output
refuses at once instead of deleting the first run's rows, and the kernel releases the lock
when the process dies, however it dies. Not ``flock``: its lock belongs to the open file,
which the forked decode workers share, so workers outliving a killed run kept the output
locked. A POSIX lock belongs to the process alone — and is dropped when the process closes
*any* descriptor of the file, so the journal is only ever read through its own handle.
The final table is written by :mod:`.table`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..atomic import explain_write_error
from .table import parse_jsonl, to_json

try:
    import fcntl
except ImportError:  # not POSIX: no lock (documented), everything else works
    fcntl = None  # type: ignore[assignment]


def append_rows(fh: IO[bytes], rows: Iterable[dict[str, Any]], path: Path, *, durable: bool = True) -> None:
    """Append JSON lines to an open journal in one write; flushed, and fsynced when ``durable``.

    The one append of every journal (``score``'s and the node's): a line is written whole
    or, after a kill mid-write, torn at the end, where :func:`cut_torn_line` removes it.

    Raises:
        WriteError: The disk is full or the write failed (named, "no space left" when it is that).
    """
    data = "".join(to_json(r) + "\n" for r in rows).encode("utf-8")
    if not data:
        return
    try:
        fh.write(data)
        fh.flush()
        if durable:
            os.fsync(fh.fileno())
    except OSError as exc:
        raise explain_write_error(path, exc) from None


def cut_torn_line(fh: IO[bytes]) -> None:
    """Cut a last line torn by a kill mid-append, so the next row does not join it (the handle ends at the end)."""
    fh.seek(0)
    data = fh.read()
    if data and not data.endswith(b"\n"):
        fh.truncate(data.rfind(b"\n") + 1)
        fh.flush()
        os.fsync(fh.fileno())
    fh.seek(0, os.SEEK_END)


class JournalBusy(Exception):
    """Another run holds this output's journal."""


def journal_path(out: Path) -> Path:
    """The journal that backs ``out``."""
    return out.with_name(out.name + ".journal.jsonl")


class Journal:
    """Append rows batch by batch; durable after every :meth:`append`; one writer at a time.

    Args:
        out: The output table the journal backs.
        resume: Keep the rows already journaled (else start empty).

    Raises:
        JournalBusy: Another process is writing to the same output.
    """

    def __init__(self, out: Path, resume: bool = False) -> None:
        self.path = journal_path(out)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a+b")  # noqa: SIM115 - held (and locked) for the whole run, closed by close()
        if fcntl is not None:
            try:
                fcntl.lockf(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.fh.close()
                raise JournalBusy(
                    f"{out}: another 'score' run is writing to this output (its journal {self.path.name} is locked); "
                    "wait for it to finish or write to another file"
                ) from None
        if not resume:
            self.fh.truncate(0)
        self._repair()

    def _repair(self) -> None:
        """Cut a torn last line left by a killed run, so appends start on a fresh line."""
        cut_torn_line(self.fh)

    def rows(self) -> Iterator[dict[str, Any]]:
        """The rows journaled so far (read through the locked handle: see the module's note)."""
        self.fh.flush()
        self.fh.seek(0)
        data = self.fh.read()
        self.fh.seek(0, os.SEEK_END)
        yield from parse_jsonl(data.decode("utf-8").splitlines(keepends=True))

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write rows and make them durable.

        Raises:
            WriteError: The disk is full (the journal keeps every batch before this one;
                a torn last line is cut when it is opened again, so ``--resume`` recovers).
        """
        append_rows(self.fh, rows, self.path)

    def discard(self) -> None:
        """Delete the journal (its rows are in the final table) and release the lock."""
        self.path.unlink(missing_ok=True)
        self.close()

    def close(self) -> None:
        """Release the lock and close the file."""
        if not self.fh.closed:
            self.fh.close()
