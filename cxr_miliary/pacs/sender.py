"""Delivering results to ``--dest``: each SR and SC once, a refused one set aside, the others going on.

The sender follows ``results.jsonl`` and C-STOREs every result object over one
association kept open while results flow. What the destination says decides, per object:

- success (or a warning status): recorded in ``sent.jsonl``; when all of a result's
  objects are in, its files are deleted (unless ``keep``: ``serve --keep-dicom``);
- a refusal status, a SOP class the destination did not accept, or no answer: the
  object is tried again later (2 s, doubling, at most a minute), while the others go
  on; after :data:`MAX_TRIES` it becomes a dead letter in ``failed.jsonl`` with what the
  destination said, and its file is kept for an operator;
- a result file that is gone: a dead letter at once;
- no association at all (the destination is down or rejects us): everything waits,
  with the node's back-off, and nothing is counted against the objects.

Logs name the status and the object's kind (SR / SC) and the result's key, never a UID.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import transports
from .queue import NodeState
from .settings import Destination

log = logging.getLogger(__name__)

#: Tries per object before it is set aside as a dead letter.
MAX_TRIES = 5
#: The first retry of a refused object waits this long (seconds), doubling ...
RETRY_S = 2.0
#: ... up to this.
MAX_RETRY_S = 60.0
#: The association to the destination is released after this long without a result to send (seconds).
IDLE_S = 5.0
#: What is proposed and how it is named in logs (the transports' table).
RESULT_CLASSES = transports.RESULT_CLASSES
status_text, store = transports.status_text, transports.store  # the first versions' homes of these names


def kind_of(path: Path) -> str:
    """``SR`` or ``SC`` (from the file's meta header), ``object`` when it cannot be read."""
    try:
        from pydicom.filereader import read_file_meta_info

        return RESULT_CLASSES.get(str(read_file_meta_info(path).MediaStorageSOPClassUID), "object")
    except Exception:
        return "object"


@dataclass
class _Try:
    n: int = 0
    due: float = 0.0
    said: str = ""


class Sender:
    """Sends every result's objects to ``dest`` (see the module's notes).

    Args:
        state: The node's folders and journals.
        dest: Where results go: a ``HOST:PORT:AE`` :class:`~cxr_miliary.pacs.settings.Destination`
            (DIMSE), a transport (:mod:`.transports`: a DICOMweb service), or None (results stay in ``--out``).
        ae_title: The node's AE title (the calling AE of DIMSE).
        keep: Keep delivered objects' files.
        on_row: Called with each result row as it is read (counting, the disk estimate, known keys).
    """

    def __init__(
        self, state: NodeState, dest: Any, ae_title: str, *, keep: bool = False, on_row: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.state, self.dest, self.ae_title, self.keep = state, dest, ae_title, keep
        self.transport: Any = None if dest is None else transports.Dimse(dest, ae_title) if isinstance(dest, Destination) else dest
        self.on_row = on_row
        whole, self._sent, self._failed = state.delivery()
        self._whole = whole
        self._offset = 0
        self._todo: dict[str, list[Path]] = {}  # key -> its objects not yet delivered or set aside, in order
        self._objects: dict[str, list[Path]] = {}  # key -> all its objects, while some are to do
        self._tries: dict[tuple[str, str], _Try] = {}
        self._last_sent = 0.0
        #: Why the destination could not be had on the last round ("" when it could): the status page's line.
        self.problem = ""

    # --- reading results ------------------------------------------------------------------
    def _read(self) -> None:
        rows, self._offset = self.state.new_results(self._offset)
        for r in rows:
            if self.on_row is not None:
                self.on_row(r)
            if self.dest is None:
                continue
            key = str(r["key"])
            objects = [Path(f) for f in str(r.get("dicom_outputs") or "").split(";") if f]
            if key in self._whole or not objects:
                continue
            todo = [p for p in objects if (key, p.name) not in self._sent and (key, p.name) not in self._failed]
            if todo:
                self._todo[key], self._objects[key] = todo, objects
            else:
                self._finish(key, objects)

    def _finish(self, key: str, objects: list[Path]) -> None:
        """Every object of a result is delivered or set aside: delivered files are deleted (unless kept)."""
        if self.keep:
            return
        for p in objects:
            if (key, p.name) in self._sent:
                with contextlib.suppress(OSError):
                    p.unlink()

    # --- outcomes -------------------------------------------------------------------------
    def _delivered(self, key: str, path: Path) -> None:
        self.state.mark_sent(key, path.name)
        self._sent.add((key, path.name))
        self._tries.pop((key, path.name), None)
        self._done_with(key, path)

    def _set_aside(self, key: str, path: Path, said: str, kind: str) -> None:
        t = self._tries.setdefault((key, path.name), _Try())
        t.n += 1
        t.said = said
        if t.n >= MAX_TRIES or not path.exists():
            self.state.mark_failed(key, path.name, t.n, said)
            self._failed.add((key, path.name))
            self._tries.pop((key, path.name), None)
            log.error("result %s: its %s was set aside after %d tries (%s); see failed.jsonl", key[:8], kind, t.n, said)
            self._done_with(key, path)
            return
        wait = min(RETRY_S * 2 ** (t.n - 1), MAX_RETRY_S)
        t.due = time.monotonic() + wait
        log.warning("result %s: %s; its %s is tried again in %.0f s (try %d of %d)", key[:8], said, kind, wait, t.n, MAX_TRIES)

    def _done_with(self, key: str, path: Path) -> None:
        objects = self._todo.get(key, [])
        if path in objects:
            objects.remove(path)
        if not objects:
            self._todo.pop(key, None)
            self._finish(key, self._objects.pop(key, []))

    # --- the transport --------------------------------------------------------------------
    @property
    def assoc(self) -> Any:
        """The open DIMSE association (None for DICOMweb, or when none is open)."""
        return getattr(self.transport, "assoc", None)

    def release(self) -> None:
        """Let go of the connection to the destination, if one is held."""
        if self.transport is not None:
            self.transport.release()

    # --- one round --------------------------------------------------------------------------
    def send_pending(self) -> bool:
        """Read new results and send every object that is due; False when the destination could not be had (back off).

        Raises:
            Exception: What a broken connection raises (the caller releases and backs off).
        """
        self._read()
        if self.transport is None:
            return True
        now = time.monotonic()
        due = [(k, p) for k, objects in self._todo.items() for p in list(objects) if self._tries.get((k, p.name), _Try()).due <= now]
        if not due:
            if self.assoc is not None and now - self._last_sent > IDLE_S:
                self.release()
            return True
        if not self.transport.ready():
            self.problem = getattr(self.transport, "problem", "") or f"destination {self.transport.name} could not be reached"
            return False
        self.problem = ""
        for key, path in due:
            kind = kind_of(path)
            if not path.exists():
                self._set_aside(key, path, "its file is missing (deleted before it was sent)", kind)
                continue
            outcome = self.transport.send(path, kind)
            if outcome.kind == transports.STORED:
                self._delivered(key, path)
                self._last_sent = time.monotonic()
            elif outcome.kind == transports.REFUSED:
                self._set_aside(key, path, outcome.said, kind)
            else:  # nobody answered: this object counts a try only when a connection was up and then broke under it
                if "association ended" in outcome.said:
                    self._set_aside(key, path, outcome.said, kind)
                log.warning("destination %s: %s", self.transport.name, outcome.said)
                self.problem = f"destination {self.transport.name}: {outcome.said}"
                return False
        return True

    def pending(self) -> int:
        """Objects not yet delivered nor set aside."""
        return sum(len(v) for v in self._todo.values())

    def failing(self) -> list[dict[str, Any]]:
        """Objects the destination refused and that wait for another try: result (first 8 of its key), tries, why, next try in seconds."""
        now = time.monotonic()
        return [
            {"result": k[:8], "tries": t.n, "of": MAX_TRIES, "reason": t.said, "next_try_s": round(max(0.0, t.due - now), 1)}
            for (k, _), t in list(self._tries.items())
            if t.n
        ]


class FolderState:
    """Result files already written (``score --dicom-out``) as a sender's source, with the node's journals beside them.

    Each file is its own result; ``.stow-sent.jsonl`` and ``.stow-failed.jsonl`` in the folder
    make delivery exactly once across reruns (the node's own journal code, borrowed).
    """

    delivery = NodeState.delivery
    mark_sent = NodeState.mark_sent
    mark_failed = NodeState.mark_failed
    _append = staticmethod(NodeState._append)

    def __init__(self, folder: Path, files: list[Path]) -> None:
        self.folder = Path(folder)
        self.sent, self.failed = self.folder / ".stow-sent.jsonl", self.folder / ".stow-failed.jsonl"
        self._rows = [{"key": p.name, "dicom_outputs": str(p)} for p in files]

    def new_results(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Every file once (the offset counts files)."""
        return self._rows[offset:], len(self._rows)


def deliver_folder(folder: Path, files: list[Path], transport: Any, *, patience_s: float = 300.0) -> dict[str, int]:
    """Send ``files`` (inside ``folder``) through ``transport``, each once; wait out an absent destination for ``patience_s``.

    Returns:
        ``{"sent", "failed", "left"}``: delivered (now or before), set aside as dead letters, still to send (rerun to send them).
    """
    state = FolderState(folder, files)
    sender = Sender(state, transport, "", keep=True)  # type: ignore[arg-type]
    gave_up = time.monotonic() + patience_s
    backoff = 1.0
    try:
        while True:
            ok = sender.send_pending()
            if sender.pending() == 0:
                break
            if ok:
                backoff = 1.0
                time.sleep(0.05)
                continue
            if time.monotonic() > gave_up:
                break
            time.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
    finally:
        sender.release()
    whole, sent, failed = state.delivery()
    return {"sent": len(sent), "failed": len(failed), "left": sender.pending()}
