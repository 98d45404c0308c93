"""``cxr-miliary serve``: a DICOM node that scores the chest films it receives and sends the results on.

Three parts, each restartable from the files in ``--out`` (:mod:`.queue`):

- **receiving** (this process, pynetdicom): C-ECHO; C-STORE of CR and DX images, each
  written and fsynced to the queue before it is acknowledged; any other SOP class is
  refused with status 0x0122 (SOP Class not supported); with ``--allow-ae`` only those
  calling AE titles may associate;
- **scoring** (a child process started fresh - spawned, not forked: a runtime's thread
  pools do not survive a fork - whose decode workers fork from it once and live as long
  as it does): the queue, as films arrive, in batches through exactly what ``score``
  runs (:func:`~cxr_miliary.inference.batch.score_stream`: the same rows, the same
  integrity rules, the SR and SC written beside each row);
- **sending** (a thread here): every result's SR and SC to ``--dest`` by C-STORE,
  retried with exponential back-off while the destination is down, recorded once sent.

Logs say how many images came, were scored and were sent, never an identifier.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .queue import NodeState, key_of, row_of

log = logging.getLogger(__name__)

#: CR, DX For Presentation and DX For Processing Image Storage: what the node scores.
ACCEPTED = ("1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1")
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
#: A part-filled batch waits for more films while the newest film is younger than this (seconds)...
GATHER_S = 1.0
#: ... but never longer than this for one batch.
MAX_GATHER_S = 3.0
#: The largest PDU the node receives (bytes): senders cut an image into P-DATA fragments of
#: this size. pynetdicom's default, 16 KiB, cuts a 2,048² film into ~500 fragments, each
#: decoded in Python on both sides; 256 KiB took 40 % less CPU to receive 32 films of
#: 3,000² (chosen among 16 KiB-1 MiB on those; measured end to end by ``bench pacs``).
MAX_PDU = 262144
#: How often the sender looks for new results (it reads only what was appended since).
SEND_POLL_S = 0.1
#: The association to the destination is released after this long without a result to send (seconds).
SEND_IDLE_S = 5.0
#: Back-off while the destination is down: 1 s, doubling, at most this.
MAX_BACKOFF_S = 60.0


@dataclass
class Destination:
    """Where results go: ``HOST:PORT:AE``."""

    host: str
    port: int
    ae_title: str

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``HOST:PORT:AE`` -> Destination (ValueError with the reason otherwise)."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[2] or not parts[1].isdigit() or not 0 < int(parts[1]) < 65536:
            raise ValueError(f"{text!r}: a destination is HOST:PORT:AE (e.g. pacs.local:104:PACS)")
        if len(parts[2]) > 16:
            raise ValueError(f"{parts[2]!r}: an AE title has at most 16 characters")
        return cls(parts[0], int(parts[1]), parts[2])


@dataclass
class Counters:
    """What the node has done since it started (the log's figures)."""

    received: int = 0
    refused: int = 0
    scored: int = 0
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` more."""
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


@dataclass
class ModelSpec:
    """How the scoring process loads its model (picklable: the process is spawned)."""

    weights: str | None = None
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None

    def load(self) -> Any:
        """The Scorer of the bundle (the default one without weights)."""
        from ..inference import Predictor

        kw = {"device": self.device, "precision": self.precision, "threads": self.threads}
        return (Predictor.load(self.weights, **kw) if self.weights else Predictor.from_pretrained(**kw)).scorer


def arrivals(state: NodeState, seen: set[str], *, gather_s: float = GATHER_S) -> Iterator[tuple[int, str] | str]:
    """The queue as an endless source for :func:`~cxr_miliary.inference.batch.score_stream`.

    Each queued image not in ``seen`` once, oldest first; when none is new, ``WAIT``
    while the newest image is younger than ``gather_s`` (films are still arriving: a
    fuller batch is worth a moment) and ``FLUSH`` after that.
    """
    from ..inference.batch import FLUSH, WAIT

    index = 0
    newest = 0.0
    while True:
        new = [p for p in state.pending() if p.stem not in seen]
        if not new:
            yield WAIT if time.time() - newest < gather_s else FLUSH
            continue
        for p in new:
            seen.add(p.stem)
            with contextlib.suppress(OSError):
                newest = max(newest, p.stat().st_mtime)
            yield index, str(p)
            index += 1


def score_forever(model: ModelSpec, out: str, parent: int, *, batch_size: int, workers: int, sr: str) -> None:
    """The scoring process: queued images through ``score``'s own path, rows recorded, until the parent ends.

    One stream for the process's life: its decode workers keep decoding films as they
    arrive while the model scores the batch before (no rounds that start them afresh).
    """
    from ..inference.batch import Outputs, die_with_parent, score_stream

    die_with_parent(parent)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    state = NodeState(out)
    scorer = model.load()
    outputs = Outputs(maps=True, dicom_out=state.dicom, sr=sr)
    source = arrivals(state, state.done_keys())
    stream = score_stream(scorer, source, batch_size=batch_size, num_workers=workers, outputs=outputs, max_gather_s=MAX_GATHER_S, each=True)
    for rows in stream:  # each row recorded as soon as its SR and SC are written: the sender need not wait for the batch
        records = [row_of(r, Path(r["path"]).stem) for r in rows]
        state.record(records)
        log.debug("scored %d image(s)", len(records))


def _store(assoc: Any, path: Path) -> Any:
    """C-STORE a result file as written: its bytes go out without being decoded and encoded again.

    Decoding and re-encoding a TID 1500 report with pydicom cost ~50 ms of CPU per report
    on the node's cores (shared with receiving and scoring). A destination that accepted
    the class only in another transfer syntax gets the decoded dataset, converted.
    """
    from pydicom import dcmread
    from pynetdicom import _config

    _config.STORE_SEND_CHUNKED_DATASET = True  # pynetdicom's switch for send-as-written; only this process's sender sends files
    try:
        return assoc.send_c_store(path)
    except ValueError:  # no accepted context in the file's own transfer syntax
        return assoc.send_c_store(dcmread(path))


class Node:
    """A running DICOM node.

    Args:
        model: The model the scoring process loads (:class:`ModelSpec`).
        out: Its folder (queue, results, DICOM results).
        port: TCP port.
        ae_title: Its AE title.
        allow_ae: Calling AE titles allowed to associate (None: any).
        dest: Where results go (None: kept in ``out`` only).
        workers: Decode workers of the scorer.
        batch_size: Images per forward.
        sr: ``tid1500`` or ``basic``.
    """

    def __init__(
        self,
        model: ModelSpec,
        out: str | Path,
        *,
        port: int,
        ae_title: str = "CXR-MILIARY",
        allow_ae: list[str] | None = None,
        dest: Destination | None = None,
        workers: int = 2,
        batch_size: int = 16,
        sr: str = "tid1500",
    ) -> None:
        self.model = model
        self.state = NodeState(out)
        self.port, self.ae_title, self.allow_ae, self.dest = port, ae_title, allow_ae, dest
        self.workers, self.batch_size, self.sr = workers, batch_size, sr
        self.counts = Counters()
        self._stop = threading.Event()
        self._server: Any = None
        self._child: Any = None
        # the sender follows results.jsonl from a byte offset; what was sent is kept in memory
        self._offset = 0
        self._sent: set[str] = set()
        self._unsent: list[dict[str, Any]] = []
        self._assoc: Any = None  # the open association to --dest (the sender thread's only)
        self._last_sent = 0.0

    # --- receiving ----------------------------------------------------------------------
    def _on_store(self, event: Any) -> int:
        """Queue a CR/DX image durably, then acknowledge; refuse other SOP classes."""
        sop_class = str(event.request.AffectedSOPClassUID)
        if sop_class not in ACCEPTED:
            self.counts.add("refused")
            return SOP_CLASS_NOT_SUPPORTED
        try:
            self.state.enqueue(key_of(str(event.request.AffectedSOPInstanceUID)), event.encoded_dataset())
        except OSError as exc:  # a full disk: refused, so the sender keeps the image and retries
            log.error("an image could not be queued (%s); refused with 0xA700", exc.strerror or type(exc).__name__)
            return OUT_OF_RESOURCES
        self.counts.add("received")
        return 0x0000

    def _ae(self) -> Any:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title=self.ae_title)
        ae.maximum_pdu_size = MAX_PDU
        ae.add_supported_context(Verification)
        for cx in AllStoragePresentationContexts:  # every storage class is negotiated, so others get a C-STORE status, not a silent reject
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        if self.allow_ae:
            ae.require_calling_aet = list(self.allow_ae)
        ae.maximum_associations = 16
        return ae

    # --- sending ------------------------------------------------------------------------
    def _association(self) -> Any:
        """The association to the destination: the open one, or a new one (None when it cannot be had).

        Kept open while results keep coming (a node sends each result as soon as it is
        written, so one association per result would be set up hundreds of times a
        minute) and released after :data:`SEND_IDLE_S` without one.
        """
        if self._assoc is not None and self._assoc.is_established:
            return self._assoc
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
        from pynetdicom import AE

        assert self.dest is not None
        ae = AE(ae_title=self.ae_title)
        # Secondary Capture, Comprehensive 3D SR, Basic Text SR; the files' own transfer
        # syntax in a context of its own (so a destination can accept it and the file goes
        # out as written) and Implicit VR, which every SCP must accept, in another
        for sop_class in ("1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.88.11"):
            ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
            ae.add_requested_context(sop_class, ImplicitVRLittleEndian)
        assoc = ae.associate(self.dest.host, self.dest.port, ae_title=self.dest.ae_title)
        self._assoc = assoc if assoc.is_established else None
        return self._assoc

    def _release(self) -> None:
        """Release the association to the destination, if one is open."""
        assoc, self._assoc = self._assoc, None
        if assoc is not None:
            with contextlib.suppress(Exception):
                if assoc.is_established:
                    assoc.release()

    def _send_pending(self) -> bool:
        """Send every unsent result; True when everything was sent (or there was nothing to send)."""
        rows, self._offset = self.state.new_results(self._offset)
        self.counts.add("scored", len(rows))
        if self.dest is None:
            return True
        self._unsent.extend(r for r in rows if str(r["key"]) not in self._sent)
        if not self._unsent:
            if self._assoc is not None and time.monotonic() - self._last_sent > SEND_IDLE_S:
                self._release()
            return True
        assoc = self._association()
        if assoc is None:
            return False
        while self._unsent:
            row = self._unsent[0]
            files = [f for f in str(row.get("dicom_outputs") or "").split(";") if f]
            for f in files:
                status = _store(assoc, Path(f))
                if not status or int(status.Status) not in (0x0000, 0xB000, 0xB007, 0xB006):
                    self._release()  # a fresh association for the retry
                    return False
            self.state.mark_sent(str(row["key"]))
            self._sent.add(str(row["key"]))
            self._unsent.pop(0)
            self.counts.add("sent", len(files))
        self._last_sent = time.monotonic()
        return True

    def _sender(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                ok = self._send_pending()
            except Exception as exc:  # a destination that breaks the association: try again later
                log.warning("sending results failed (%s); retrying", type(exc).__name__)
                self._release()
                ok = False
            if ok:
                backoff = 1.0
                self._stop.wait(SEND_POLL_S)
            else:
                log.warning(
                    "destination %s:%d not reachable; retrying in %.0f s",
                    self.dest.host if self.dest else "",
                    self.dest.port if self.dest else 0,
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        self._release()

    # --- running ------------------------------------------------------------------------
    def start(self) -> None:
        """Tidy the queue, fork the scorer, start the sender and the network (returns at once)."""
        from pynetdicom import evt

        self.state.recover()
        self._sent = self.state.sent_keys()
        removed = self.state.tidy()
        if removed:
            log.info("%d queued image(s) were scored before the last stop; removed", removed)
        ctx = mp.get_context("spawn")
        self._child = ctx.Process(
            target=score_forever,
            args=(self.model, str(self.state.out), os.getpid()),
            kwargs={"batch_size": self.batch_size, "workers": self.workers, "sr": self.sr},
        )  # not a daemon: it forks decode workers of its own; it ends with this process (parent-death signal)
        self._child.start()
        threading.Thread(target=self._sender, name="cxr-miliary-sender", daemon=True).start()
        handlers = [(evt.EVT_C_STORE, self._on_store)]
        self._server = self._ae().start_server(("", self.port), block=False, evt_handlers=handlers)
        log.info("serving as %s on port %d (results in %s)", self.ae_title, self.port, self.state.out)

    def stop(self) -> None:
        """Stop the network, the sender and the scorer."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
        if self._child is not None:
            self._child.terminate()
            self._child.join(10)

    def wait(self) -> None:
        """Block until :meth:`stop` (or a signal that calls it), logging what was done now and then."""
        last = (-1, -1, -1)
        while not self._stop.wait(10):
            now = (self.counts.received, self.counts.scored, self.counts.sent)
            if now != last:
                log.info("received %d, scored %d, sent %d objects; %d refused", now[0], now[1], now[2], self.counts.refused)
                last = now
            with contextlib.suppress(Exception):
                if self._child is not None and not self._child.is_alive():
                    log.error("the scoring process ended; stopping")
                    self.stop()
