"""The node's state on disk: received images waiting to be scored, results, and what was sent.

Everything a restart needs is a file, written so that a kill -9 at any instant loses
nothing acknowledged and repeats nothing done:

- ``queue/<key>.dcm``: an image exactly as received, written and fsynced (file and
  folder) *before* the C-STORE is acknowledged; ``key`` is a hash of its SOP Instance
  UID (no identifier in any name);
- ``results.jsonl``: one row per scored image, the ``score`` row plus its ``key``,
  appended and fsynced after the image's SR and SC are written (their UIDs derive from
  the image's and the model's, so writing them again after a crash gives the same
  files); the queued image is removed only after its row is durable;
- ``sent.jsonl``: the keys whose SR and SC reached the destination.

On restart every queued image without a row is scored, every queued image with one is
removed, and every row not yet sent is sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..atomic import atomic_path, explain_write_error
from ..inference.table import parse_jsonl, to_json


def key_of(sop_instance_uid: str) -> str:
    """The queue's name for an image: a hash of its SOP Instance UID (never the UID itself in a name or a log)."""
    return hashlib.sha256(str(sop_instance_uid).encode()).hexdigest()[:32]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class NodeState:
    """The folders and journals of one node (``--out``)."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        self.queue = self.out / "queue"
        self.dicom = self.out / "dicom"
        self.results = self.out / "results.jsonl"
        self.sent = self.out / "sent.jsonl"
        for folder in (self.queue, self.dicom):
            folder.mkdir(parents=True, exist_ok=True)

    # --- receiving ----------------------------------------------------------------------
    def enqueue(self, key: str, data: bytes) -> Path:
        """Write a received image durably (the caller acknowledges only after this returns)."""
        path = self.queue / f"{key}.dcm"
        with atomic_path(path, mkdir=False) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(self.queue)
        return path

    def pending(self) -> list[Path]:
        """Queued images, oldest first."""
        files = [p for p in self.queue.glob("*.dcm") if not p.name.startswith(".")]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    # --- results ------------------------------------------------------------------------
    @staticmethod
    def _rows(path: Path) -> Iterator[dict[str, Any]]:
        if not path.exists():
            return
        with open(path, encoding="utf-8") as fh:
            yield from parse_jsonl(fh)

    def new_results(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Result rows appended after byte ``offset`` (whole lines only), and the offset to read from next.

        The sender follows the journal this way instead of reading it whole every time:
        a node that has scored 100,000 images reads only what is new.
        """
        if not self.results.exists():
            return [], offset
        with open(self.results, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        if end == 0:
            return [], offset
        return list(parse_jsonl(io.StringIO(data[:end].decode("utf-8")))), offset + end

    def recover(self) -> None:
        """Cut a journal line torn by a kill mid-write, so the next row does not join it.

        Called at start, before the scorer and the sender run. A torn result row's image is
        still queued (it is removed only after its row is whole), so it is scored again.
        """
        for path in (self.results, self.sent):
            if not path.exists():
                continue
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(path, "r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
                    os.fsync(fh.fileno())

    def done_keys(self) -> set[str]:
        """Keys that have a result row."""
        return {str(r.get("key")) for r in self._rows(self.results)}

    def sent_keys(self) -> set[str]:
        """Keys whose results reached the destination."""
        return {str(r.get("key")) for r in self._rows(self.sent)}

    @staticmethod
    def _append(path: Path, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            with open(path, "ab") as fh:
                fh.write("".join(to_json(r) + "\n" for r in rows).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise explain_write_error(path, exc) from None

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Append result rows durably, then drop their queued images (in that order: a crash between repeats nothing)."""
        self._append(self.results, rows)
        for r in rows:
            with contextlib.suppress(FileNotFoundError):
                (self.queue / f"{r['key']}.dcm").unlink()

    def mark_sent(self, key: str) -> None:
        """Record that a result reached the destination."""
        self._append(self.sent, [{"key": key}])

    def tidy(self) -> int:
        """After a restart: remove queued images whose rows were written before the crash; how many."""
        done = self.done_keys()
        n = 0
        for p in self.pending():
            if p.stem in done:
                p.unlink()
                n += 1
        return n


def row_of(result_row: dict[str, Any], key: str) -> dict[str, Any]:
    """A ``score`` row as the node records it: its key, and the queued path left out (it is removed)."""
    row = {k: v for k, v in result_row.items() if k != "path"}
    row["key"] = key
    return json.loads(to_json(row))
