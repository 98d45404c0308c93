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
#: Statuses that mean the object is stored (success and the storage warnings).
STORED = (0x0000, 0xB000, 0xB007, 0xB006)
#: What is proposed: Secondary Capture, Comprehensive 3D SR, Basic Text SR.
RESULT_CLASSES = {"1.2.840.10008.5.1.4.1.1.7": "SC", "1.2.840.10008.5.1.4.1.1.88.34": "SR", "1.2.840.10008.5.1.4.1.1.88.11": "SR"}


def status_text(code: int) -> str:
    """``0xA700 (Refused: Out of Resources)``: a status with pynetdicom's description of it."""
    from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS

    category, meaning = STORAGE_SERVICE_CLASS_STATUS.get(code, ("", ""))
    words = f"{category}: {meaning}" if category and meaning else category or meaning or "unknown status"
    return f"0x{code:04X} ({words})"


def kind_of(path: Path) -> str:
    """``SR`` or ``SC`` (from the file's meta header), ``object`` when it cannot be read."""
    try:
        from pydicom.filereader import read_file_meta_info

        return RESULT_CLASSES.get(str(read_file_meta_info(path).MediaStorageSOPClassUID), "object")
    except Exception:
        return "object"


def store(assoc: Any, path: Path) -> Any:
    """C-STORE a result file as written: its bytes go out without being decoded and encoded again.

    Decoding and re-encoding a TID 1500 report with pydicom cost ~50 ms of CPU per report
    on the node's cores (shared with receiving and scoring). A destination that accepted
    the class only in another transfer syntax gets the decoded dataset, converted.

    Raises:
        ValueError: The destination accepted the object's SOP class in no transfer syntax.
    """
    from pydicom import dcmread
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = True  # pynetdicom's switch for send-as-written; only the node's sender sends files
    try:
        return assoc.send_c_store(path)
    except ValueError:  # no accepted context in the file's own transfer syntax
        return assoc.send_c_store(dcmread(path))


@dataclass
class _Try:
    n: int = 0
    due: float = 0.0


class Sender:
    """Sends every result's objects to ``dest`` (see the module's notes).

    Args:
        state: The node's folders and journals.
        dest: Where results go (None: results stay in ``--out``).
        ae_title: The node's AE title (the calling AE).
        keep: Keep delivered objects' files.
        on_row: Called with each result row as it is read (counting, the disk estimate, known keys).
    """

    def __init__(
        self, state: NodeState, dest: Destination | None, ae_title: str, *, keep: bool = False, on_row: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.state, self.dest, self.ae_title, self.keep = state, dest, ae_title, keep
        self.on_row = on_row
        whole, self._sent, self._failed = state.delivery()
        self._whole = whole
        self._offset = 0
        self._todo: dict[str, list[Path]] = {}  # key -> its objects not yet delivered or set aside, in order
        self._objects: dict[str, list[Path]] = {}  # key -> all its objects, while some are to do
        self._tries: dict[tuple[str, str], _Try] = {}
        self.assoc: Any = None
        self._last_sent = 0.0

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

    # --- the association ------------------------------------------------------------------
    def _association(self) -> Any:
        """The open association to the destination, or a new one (None when none can be had)."""
        if self.assoc is not None and self.assoc.is_established:
            return self.assoc
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
        from pynetdicom import AE

        assert self.dest is not None
        ae = AE(ae_title=self.ae_title)
        # the files' own transfer syntax in a context of its own (so a destination can accept
        # it and the file goes out as written) and Implicit VR, which every SCP must accept
        for sop_class in RESULT_CLASSES:
            ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
            ae.add_requested_context(sop_class, ImplicitVRLittleEndian)
        assoc = ae.associate(self.dest.host, self.dest.port, ae_title=self.dest.ae_title)
        if assoc.is_established:
            self.assoc = assoc
            return assoc
        self.assoc = None
        how = "rejected the association" if assoc.is_rejected else "aborted the association" if assoc.is_aborted else "is not reachable"
        log.warning("destination %s:%d %s", self.dest.host, self.dest.port, how)
        return None

    def release(self) -> None:
        """Release the association to the destination, if one is open."""
        assoc, self.assoc = self.assoc, None
        if assoc is not None:
            with contextlib.suppress(Exception):
                if assoc.is_established:
                    assoc.release()

    # --- one round --------------------------------------------------------------------------
    def send_pending(self) -> bool:
        """Read new results and send every object that is due; False when the destination could not be had (back off).

        Raises:
            Exception: What a broken association raises (the caller releases and backs off).
        """
        self._read()
        if self.dest is None:
            return True
        now = time.monotonic()
        due = [(k, p) for k, objects in self._todo.items() for p in list(objects) if self._tries.get((k, p.name), _Try()).due <= now]
        if not due:
            if self.assoc is not None and now - self._last_sent > IDLE_S:
                self.release()
            return True
        assoc = self._association()
        if assoc is None:
            return False
        for key, path in due:
            kind = kind_of(path)
            if not path.exists():
                self._set_aside(key, path, "its file is missing (deleted before it was sent)", kind)
                continue
            try:
                status = store(assoc, path)
            except ValueError:
                self._set_aside(key, path, f"the destination did not accept the {kind}'s SOP class", kind)
                continue
            if not status or "Status" not in status:  # no answer: the association broke
                self._set_aside(key, path, "the destination did not answer (the association ended)", kind)
                self.release()
                return False
            code = int(status.Status)
            if code in STORED:
                self._delivered(key, path)
                self._last_sent = time.monotonic()
            else:
                self._set_aside(key, path, f"the destination refused it with status {status_text(code)}", kind)
        return True

    def pending(self) -> int:
        """Objects not yet delivered nor set aside."""
        return sum(len(v) for v in self._todo.values())
