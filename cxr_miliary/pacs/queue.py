"""The node's state on disk: received images waiting to be scored, results, and what was delivered.

Everything a restart needs is a file, written so that a kill -9 at any instant loses
nothing acknowledged and repeats nothing done:

- ``queue/<key>.dcm``: an image exactly as received, fsynced (file and folder) *before*
  the C-STORE is acknowledged. ``key`` is a hash of its SOP Instance UID and its content
  (no identifier in any name): the same image re-sent is the same key (scored once), a
  re-send with other content (a corrected header) is a new key and is scored again.
  ``queue/.incoming/`` holds images still arriving; both are swept of temporaries at start;
- ``results.jsonl``: one row per scored image, the ``score`` row plus its ``key``,
  appended and fsynced after the image's SR and SC are written (their UIDs derive from
  the image and the model, so writing them again after a crash gives the same files);
  the queued image is removed only after its row is durable;
- ``attempts.jsonl``: which images the scorer had taken when it last ran (a restart
  scores those one at a time, and one that was alone when the scorer died gets an
  error row instead of killing it again);
- ``sent.jsonl``: each result object (SR, SC) the destination accepted, once;
- ``failed.jsonl``: the dead letters - objects the destination refused or could not be
  given after the allowed tries, with what it said.

``.node.lock`` is held while a node runs: a second node on the same ``--out`` refuses to start.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..scoring.journal import append_rows, cut_torn_line
from ..scoring.table import parse_jsonl, read_jsonl, to_json

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None  # type: ignore[assignment]


class NodeBusy(Exception):
    """Another node is running on this ``--out``."""


def key_of(sop_instance_uid: str, content: str = "") -> str:
    """The queue's name for an image: a hash of its SOP Instance UID and content digest (never the UID itself in a name or a log)."""
    text = str(sop_instance_uid) if not content else f"{sop_instance_uid}\0{content}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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
        self.incoming = self.queue / ".incoming"
        self.dicom = self.out / "dicom"
        self.results = self.out / "results.jsonl"
        self.sent = self.out / "sent.jsonl"
        self.failed = self.out / "failed.jsonl"
        self.attempts = self.out / "attempts.jsonl"
        self._lock: Any = None
        for folder in (self.queue, self.incoming, self.dicom):
            folder.mkdir(parents=True, exist_ok=True)

    # --- one node per folder ------------------------------------------------------------
    def lock(self) -> None:
        """Hold ``.node.lock`` for this process's life (released by the kernel however it ends).

        Raises:
            NodeBusy: Another node holds it.
        """
        if fcntl is None or self._lock is not None:
            return
        fh = open(self.out / ".node.lock", "a+b")  # noqa: SIM115 - held open while the node runs
        try:
            fcntl.lockf(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise NodeBusy(f"{self.out}: another node is running on this folder (its .node.lock is held); give each node its own --out") from None
        self._lock = fh

    def unlock(self) -> None:
        """Release the lock (a stopped node)."""
        fh, self._lock = self._lock, None
        if fh is not None:
            fh.close()

    def clean_temporaries(self) -> int:
        """Remove what a kill left half-written: images still arriving, temporary files of atomic writes; how many."""
        n = 0
        for folder, pattern in ((self.incoming, "*"), (self.queue, ".*.tmp"), (self.dicom, ".*.tmp")):
            for p in folder.glob(pattern):
                if p.is_file():
                    with contextlib.suppress(OSError):
                        p.unlink()
                        n += 1
        return n

    # --- receiving ----------------------------------------------------------------------
    def enqueue(self, key: str, data: bytes) -> Path:
        """Write a received image durably (the caller acknowledges only after this returns)."""
        from ..atomic import atomic_path

        path = self.queue / f"{key}.dcm"
        with atomic_path(path, mkdir=False) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(self.queue)
        return path

    def enqueue_file(self, key: str, received: Path) -> Path:
        """Move a received file into the queue durably (fsynced, renamed, folder fsynced); copied when it lies on another disk."""
        path = self.queue / f"{key}.dcm"
        with open(received, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(received, path)
        except OSError:  # another file system: copy, then the same durability
            tmp = self.queue / f".{key}.copy.tmp"
            shutil.copyfile(received, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        _fsync_dir(self.queue)
        return path

    def pending(self) -> list[Path]:
        """Queued images, oldest first."""
        files = []
        for p in self.queue.glob("*.dcm"):
            if p.name.startswith("."):
                continue
            with contextlib.suppress(FileNotFoundError):  # scored and removed while listing
                files.append((p.stat().st_mtime_ns, p.name, p))
        return [p for *_, p in sorted(files)]

    def queued_bytes(self) -> tuple[int, int]:
        """(images queued, their bytes)."""
        n = size = 0
        with os.scandir(self.queue) as it:
            for e in it:
                if e.name.endswith(".dcm") and not e.name.startswith("."):
                    with contextlib.suppress(OSError):
                        size += e.stat().st_size
                        n += 1
        return n, size

    def free_bytes(self) -> int:
        """Free space on ``--out``'s file system."""
        return shutil.disk_usage(self.out).free

    # --- results ------------------------------------------------------------------------
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
        """Cut journal lines torn by a kill mid-write, so the next row does not join them.

        Called at start, before the scorer and the sender run. A torn result row's image is
        still queued (it is removed only after its row is whole), so it is scored again.
        """
        for path in (self.results, self.sent, self.failed, self.attempts):
            if path.exists():
                with open(path, "r+b") as fh:
                    cut_torn_line(fh)

    def done_keys(self) -> set[str]:
        """Keys that have a result row."""
        return {str(r.get("key")) for r in read_jsonl(self.results)}

    @staticmethod
    def _append(path: Path, rows: list[dict[str, Any]], durable: bool = True) -> None:
        with open(path, "ab") as fh:
            append_rows(fh, rows, path, durable=durable)

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Append result rows durably, then drop their queued images (in that order: a crash between repeats nothing)."""
        self._append(self.results, rows)
        for r in rows:
            with contextlib.suppress(FileNotFoundError):
                (self.queue / f"{r['key']}.dcm").unlink()

    def tidy(self) -> int:
        """After a restart: remove queued images whose rows were written before the crash; how many."""
        done = self.done_keys()
        n = 0
        for p in self.pending():
            if p.stem in done:
                p.unlink()
                n += 1
        return n

    # --- what the scorer had taken --------------------------------------------------------
    def note_attempt(self, key: str, alone: bool) -> None:
        """The scorer has taken ``key`` (``alone``: with nothing else in flight). Not fsynced: it must survive the scorer, not the machine.

        Best effort: on a full disk the note is skipped (scoring goes on; only the
        protection against a film that kills the scorer is lost for that film).
        """
        with contextlib.suppress(OSError):
            self._append(self.attempts, [{"key": key, "alone": alone}], durable=False)

    def note_clean_stop(self) -> None:
        """The node stopped its scorer on purpose: what was in flight then is not suspect."""
        with contextlib.suppress(OSError):
            self._append(self.attempts, [{"stop": True}], durable=False)

    def suspects(self) -> tuple[set[str], set[str]]:
        """(images in flight when a scorer died, those of them that were alone then), among images without a result.

        Attempts before a clean stop do not count; the journal is rewritten to what still matters.
        """
        tried: Counter[str] = Counter()
        alone: set[str] = set()
        for r in read_jsonl(self.attempts):
            if r.get("stop"):
                tried.clear()
                alone.clear()
                continue
            key = str(r.get("key"))
            tried[key] += 1
            if r.get("alone"):
                alone.add(key)
        done = self.done_keys()
        keep = {k for k in tried if k not in done}
        from ..atomic import write_text

        with contextlib.suppress(OSError):  # only a tidier journal is lost on a full disk
            write_text(self.attempts, "".join(to_json({"key": k, "alone": k in alone}) + "\n" for k in sorted(keep)))
        return keep, alone & keep

    # --- delivery -----------------------------------------------------------------------
    def mark_sent(self, key: str, obj: str | None = None) -> None:
        """Record that a result object (or, without ``obj``, every object of a result) reached the destination."""
        self._append(self.sent, [{"key": key} if obj is None else {"key": key, "object": obj}])

    def mark_failed(self, key: str, obj: str, tries: int, said: str) -> None:
        """A dead letter: an object the destination refused (or could not be given) ``tries`` times; ``said`` is why."""
        self._append(self.failed, [{"key": key, "object": obj, "tries": tries, "last": said, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}])

    def delivery(self) -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str]]]:
        """(results whose objects were all delivered, objects delivered, dead letters) from the journals.

        Rows of the first versions' ``sent.jsonl`` (``{"key"}`` alone) mean the whole result.
        """
        whole: set[str] = set()
        sent: set[tuple[str, str]] = set()
        for r in read_jsonl(self.sent):
            if r.get("object"):
                sent.add((str(r["key"]), str(r["object"])))
            else:
                whole.add(str(r.get("key")))
        failed = {(str(r.get("key")), str(r.get("object"))) for r in read_jsonl(self.failed)}
        return whole, sent, failed

    def sent_keys(self) -> set[str]:
        """Keys whose results were delivered whole (the first versions' records)."""
        return self.delivery()[0]


def row_of(result_row: dict[str, Any], key: str) -> dict[str, Any]:
    """A ``score`` row as the node records it: its key, and the queued path left out (it is removed)."""
    row = {k: v for k, v in result_row.items() if k != "path"}
    row["key"] = key
    return json.loads(to_json(row))
