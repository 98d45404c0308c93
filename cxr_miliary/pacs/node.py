"""``cxr-miliary serve``: a DICOM node that scores the chest films it receives and sends the results on.

Three parts, each restartable from the files in ``--out`` (:mod:`.queue`):

- **receiving** (this process, pynetdicom): C-ECHO; C-STORE of CR and DX images,
  received straight to a file on ``--out``'s disk (memory stays flat whatever the film's
  size), checked (:mod:`.accept`), and queued durably before it is acknowledged. Refused
  with a status: what :mod:`.accept` refuses, a film over ``--max-film-mb``, and any
  film while the disk's reserve is reached or no scorer runs (0xA700: the sender keeps
  it and tries again). Callers are held to :mod:`.associations`' limits;
- **scoring** (a child process started fresh - spawned, not forked: a runtime's thread
  pools do not survive a fork): :mod:`.scoring`. When it dies it is started again, at
  most :data:`MAX_RESTARTS` times in :data:`RESTART_WINDOW_S`; after that the node stops
  with exit 1, so that a supervisor restarts it and a person looks;
- **sending** (a thread here): :mod:`.sender`.

Logs say how many images came, were scored and were sent, never an identifier.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing as mp
import os
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .accept import ACCEPTED, DX_FOR_PROCESSING, OUT_OF_RESOURCES, SUCCESS, Verdict, check_received, decodable_syntaxes
from .associations import Gatekeeper
from .queue import NodeState, key_of
from .scoring import GATHER_S, MAX_GATHER_S, ModelSpec, node_options, score_forever  # noqa: F401 - re-exported: the node's public parts
from .sender import Sender, store
from .settings import DEFAULT_HOST, Destination, Limits
from .transports import Stow

log = logging.getLogger(__name__)

#: The largest PDU the node receives (bytes): senders cut an image into P-DATA fragments of
#: this size. pynetdicom's default, 16 KiB, cuts a 2,048² film into ~500 fragments, each
#: decoded in Python on both sides; 256 KiB took 40 % less CPU to receive 32 films of
#: 3,000² (chosen among 16 KiB-1 MiB on those; measured end to end by ``bench pacs``).
MAX_PDU = 262144
#: How often the sender looks for new results (it reads only what was appended since).
SEND_POLL_S = 0.1
#: Back-off while the destination is down: 1 s, doubling, at most this.
MAX_BACKOFF_S = 60.0
#: How often the node checks that its scorer lives (seconds).
WATCH_S = 0.5
#: A dead scorer is started again at most this many times ...
MAX_RESTARTS = 3
#: ... within this many seconds; one more death stops the node (exit 1).
RESTART_WINDOW_S = 600.0
#: What one film's results take on the disk before the first is measured (an RGB overlay at 1,024 px: 3 MiB, the SR, the row).
FIRST_ESTIMATE_BYTES = 4 * 2**20

_store = store  # the first versions' name (tests and users import it from here)


@dataclass
class Counters:
    """What the node has done since it started (the log's figures)."""

    received: int = 0
    refused: int = 0
    looped: int = 0  # the node's own outputs that came back, acknowledged and dropped
    scored: int = 0
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` more."""
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


def arrivals(state: NodeState, seen: set[str], *, gather_s: float = GATHER_S) -> Any:
    """The queue as an endless source (:class:`~cxr_miliary.pacs.scoring.Arrivals`; the first versions' spelling)."""
    from .scoring import Arrivals

    return iter(Arrivals(state, seen, gather_s=gather_s))


class Node:
    """A running DICOM node.

    Args:
        model: The model the scoring process loads (:class:`ModelSpec`).
        out: Its folder (queue, results, DICOM results).
        port: TCP port.
        host: The address to listen on (default: this machine only).
        ae_title: Its AE title (callers must call it by this title).
        allow_ae: Calling AE titles allowed to associate (None: any).
        dest: Where results go: ``HOST:PORT:AE`` by C-STORE, or a DICOMweb service's URL (STOW-RS); None: kept in ``out`` only.
        workers: Decode workers of the scorer.
        batch_size: Images per forward.
        sr: ``tid1500`` or ``basic``.
        options: How the scorer runs (:class:`~cxr_miliary.scoring.options.ScoreOptions`;
            default: :func:`~cxr_miliary.pacs.scoring.node_options` of ``batch_size``, ``workers``, ``sr``).
        limits: Associations, film size, disk reserve (:class:`~cxr_miliary.pacs.settings.Limits`).
        keep_dicom: Keep the SR and SC files after they were delivered.
    """

    def __init__(
        self,
        model: ModelSpec,
        out: str | Path,
        *,
        port: int,
        host: str = DEFAULT_HOST,
        ae_title: str = "CXR-MILIARY",
        allow_ae: list[str] | None = None,
        dest: Destination | str | None = None,
        workers: int = 2,
        batch_size: int = 16,
        sr: str = "tid1500",
        limits: Limits | None = None,
        keep_dicom: bool = False,
        options: Any = None,
    ) -> None:
        self.model = model
        self.state = NodeState(out)
        self.port, self.host, self.ae_title, self.allow_ae, self.dest = port, host, ae_title, allow_ae, dest
        self.options = options or node_options(str(self.state.out), batch_size, workers, sr)
        self.limits = limits or Limits()
        self.counts = Counters()
        self.gate = Gatekeeper(self.limits)
        self.exit_code = 0
        self._stop = threading.Event()
        self._server: Any = None
        self._child: Any = None
        self._child_lock = threading.Lock()
        self._deaths: deque[float] = deque()
        self._done: set[str] = set()  # keys with a result row (a re-sent identical image is not queued again)
        self._per_film = float(FIRST_ESTIMATE_BYTES)
        self._films_measured = 0
        self._config: dict[str, Any] = {}
        self.started = time.time()
        self.recent: deque[float] = deque(maxlen=200_000)  # when results were scored since start (films per minute)
        self._caught_up = False  # the sender's first round reads the results of earlier runs: not counted as recent
        self.backoff_until = 0.0  # while the destination is away: when the sender tries again (time.time())
        target = Stow(dest) if isinstance(dest, str) else dest
        self.sender = Sender(self.state, target, ae_title, keep=keep_dicom, on_row=self._on_row)

    # --- receiving ----------------------------------------------------------------------
    def accepting(self) -> bool:
        """Whether a film would be taken now: the node runs and a scorer lives to score it."""
        with self._child_lock:
            return not self._stop.is_set() and self._child is not None and self._child.is_alive()

    def scorer_state(self) -> str:
        """``running``, ``starting again`` (the scorer died and is being restarted) or ``stopped``: for the status page."""
        with self._child_lock:
            if self._stop.is_set():
                return "stopped"
            return "running" if self._child is not None and self._child.is_alive() else "starting again"

    @property
    def results_total(self) -> int:
        """Films with a result row."""
        return len(self._done)

    def room_for(self, size: int) -> bool:
        """Whether a film of ``size`` bytes fits while every queued film's results still have room, and the reserve beyond."""
        queued, _ = self.state.queued_bytes()
        need = size + (queued + 1) * self._per_film + self.limits.reserve_bytes
        return self.state.free_bytes() >= need

    def _on_store(self, event: Any) -> int:
        """Check a received image, queue it durably, then acknowledge (see the module's notes for refusals)."""
        self.gate.stored(event.assoc)
        verdict = self._verdict(event)
        if not verdict.accepted:
            self.counts.add("refused")
            log.warning("an image was refused with status 0x%04X: %s", verdict.status, verdict.reason)
        return verdict.status

    def _verdict(self, event: Any) -> Verdict:
        if not self.accepting():
            return Verdict(OUT_OF_RESOURCES, "no scorer is running (restarting or stopping); the sender should try again")
        path = Path(event.dataset_path)
        try:
            size = path.stat().st_size
            if size > self.limits.max_film_bytes:
                return Verdict(OUT_OF_RESOURCES, f"{size / 2**20:.0f} MB is over --max-film-mb {self.limits.max_film_bytes / 2**20:g}")
            if not self.room_for(size):
                return Verdict(OUT_OF_RESOURCES, "the disk of --out is at its reserve; images are accepted again when results have room")
            verdict = check_received(path, str(event.request.AffectedSOPClassUID), str(event.request.AffectedSOPInstanceUID))
            if not verdict.accepted:
                return verdict
            if verdict.drop:
                self.counts.add("looped")
                log.info("%s", verdict.reason)
                return verdict
            from ..outputs.dicom import content_digest

            key = key_of(verdict.sop_instance_uid, content_digest(path))
            if key in self._done:
                log.info("an image already scored arrived again with the same content; acknowledged, not scored again")
                return verdict
            self.state.enqueue_file(key, path)
        except OSError as exc:  # a full disk: refused, so the sender keeps the image and retries
            return Verdict(OUT_OF_RESOURCES, f"the image could not be queued ({os.strerror(exc.errno) if exc.errno else type(exc).__name__})")
        self.counts.add("received")
        return Verdict(SUCCESS)

    def _on_row(self, row: dict[str, Any]) -> None:
        """The sender read a result row: count it, know its key, and learn what a film's results take on the disk."""
        self.counts.add("scored")
        if self._caught_up:
            self.recent.append(time.time())
        self._done.add(str(row.get("key")))
        size = 0
        for f in str(row.get("dicom_outputs") or "").split(";"):
            if f:
                with contextlib.suppress(OSError):
                    size += os.path.getsize(f)
        if size:
            self._films_measured += 1
            # a running mean of what films have taken (start: the first estimate, weighed as one film)
            self._per_film += (size - self._per_film) / (self._films_measured + 1)

    def _ae(self) -> Any:
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title=self.ae_title)
        ae.maximum_pdu_size = MAX_PDU
        ae.maximum_associations = self.limits.max_associations
        ae.require_called_aet = True
        ae.add_supported_context(Verification)
        readable = decodable_syntaxes()  # a sender that prefers a syntax we cannot decode falls back to one we can
        for cx in AllStoragePresentationContexts:  # every storage class is negotiated, so others get a C-STORE status, not a silent reject
            ours = cx.abstract_syntax in ACCEPTED or cx.abstract_syntax == DX_FOR_PROCESSING
            ae.add_supported_context(cx.abstract_syntax, readable if ours else ALL_TRANSFER_SYNTAXES)
        if self.allow_ae:
            ae.require_calling_aet = list(self.allow_ae)
        return ae

    def _receive_to_disk(self) -> None:
        """Received data sets go to files in ``queue/.incoming`` (flat memory; a rename queues them)."""
        from pydicom import config as pydicom_config
        from pydicom.config import settings as pydicom_settings
        from pynetdicom import _config, dimse_messages

        self._config = {k: getattr(_config, k) for k in ("STORE_RECV_CHUNKED_DATASET", "LOG_REQUEST_IDENTIFIERS", "LOG_RESPONSE_IDENTIFIERS")}
        self._config["NamedTemporaryFile"] = getattr(dimse_messages, "NamedTemporaryFile", None)
        _config.STORE_RECV_CHUNKED_DATASET = True
        _config.LOG_REQUEST_IDENTIFIERS = _config.LOG_RESPONSE_IDENTIFIERS = False  # no UID in pynetdicom's own lines
        if self._config["NamedTemporaryFile"] is not None:  # pynetdicom writes to the default temporary folder; ours is on --out's disk
            dimse_messages.NamedTemporaryFile = functools.partial(tempfile.NamedTemporaryFile, dir=str(self.state.incoming))
        # pydicom warns of each malformed value as it reads (a 67-character UID...) on stderr, a
        # sender's noise on the node's console; the node's own checks refuse such a data set
        # with the reason (never the value), so the reader stays quiet while it runs
        self._config["reading_validation_mode"] = pydicom_settings.reading_validation_mode
        pydicom_settings.reading_validation_mode = pydicom_config.IGNORE

    def _restore_config(self) -> None:
        from pydicom.config import settings as pydicom_settings
        from pynetdicom import _config, dimse_messages

        for k, v in self._config.items():
            if k == "NamedTemporaryFile":
                if v is not None:
                    dimse_messages.NamedTemporaryFile = v
            elif k == "reading_validation_mode":
                pydicom_settings.reading_validation_mode = v
            else:
                setattr(_config, k, v)
        self._config = {}

    # --- scoring ------------------------------------------------------------------------
    def _spawn_scorer(self) -> None:
        ctx = mp.get_context("spawn")
        child = ctx.Process(
            target=score_forever,
            args=(self.model, str(self.state.out), os.getpid(), self.options),
        )  # not a daemon: it forks decode workers of its own; it ends with this process (parent-death signal)
        child.start()
        with self._child_lock:
            self._child = child

    def _watch_scorer(self) -> None:
        """Start a dead scorer again (bounded); stop the node with exit 1 when it keeps dying."""
        with self._child_lock:
            child = self._child
            if child is None or child.is_alive() or self._stop.is_set():
                return
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > RESTART_WINDOW_S:
            self._deaths.popleft()
        if len(self._deaths) > MAX_RESTARTS:
            log.error(
                "the scoring process died %d times in %.0f s (last exit %s); stopping with exit 1 so that a supervisor restarts the node",
                len(self._deaths),
                RESTART_WINDOW_S,
                child.exitcode,
            )
            self.exit_code = 1
            self.stop()
            return
        log.error("the scoring process ended (exit %s); starting it again (%d of %d)", child.exitcode, len(self._deaths), MAX_RESTARTS)
        self._spawn_scorer()

    # --- sending ------------------------------------------------------------------------
    def _send_pending(self) -> bool:
        """One round of the sender (see :meth:`~cxr_miliary.pacs.sender.Sender.send_pending`)."""
        return self.sender.send_pending()

    def _release(self) -> None:
        self.sender.release()

    @property
    def _assoc(self) -> Any:
        return self.sender.assoc

    def _sender(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                ok = self._send_pending()
            except Exception as exc:  # a destination that breaks the association: try again later
                log.warning("sending results failed (%s); retrying", type(exc).__name__)
                self.sender.problem = f"sending failed ({type(exc).__name__})"
                self._release()
                ok = False
            self._caught_up = True
            if ok:
                backoff = 1.0
                self.backoff_until = 0.0
                self._stop.wait(SEND_POLL_S)
            else:
                log.warning("results wait for the destination; retrying in %.0f s", backoff)
                self.backoff_until = time.time() + backoff
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        self._release()

    # --- running ------------------------------------------------------------------------
    def start(self) -> None:
        """Lock ``--out``, tidy it, listen, start the scorer, the sender and the gatekeeper (returns at once).

        Raises:
            NodeBusy: Another node runs on ``--out``.
            OSError: The address cannot be listened on (nothing was started).
        """
        from pynetdicom import evt

        self.state.lock()
        self.state.recover()
        swept = self.state.clean_temporaries()
        if swept:
            log.info("%d temporary file(s) left by an earlier stop were removed", swept)
        removed = self.state.tidy()
        if removed:
            log.info("%d queued image(s) were scored before the last stop; removed", removed)
        self._receive_to_disk()
        handlers = [(evt.EVT_C_STORE, self._on_store), *self.gate.handlers()]
        try:  # listen first: a port in use stops here, before a scorer exists to keep the process alive
            self._server = self._ae().start_server((self.host, self.port), block=False, evt_handlers=handlers)
        except BaseException:
            self._restore_config()
            self.state.unlock()
            raise
        self._spawn_scorer()
        threading.Thread(target=self._sender, name="cxr-miliary-sender", daemon=True).start()
        threading.Thread(target=self.gate.run, args=(self._stop,), name="cxr-miliary-gatekeeper", daemon=True).start()
        log.info("serving as %s on %s:%d (results in %s)", self.ae_title, self.host, self.port, self.state.out)
        if self.host in ("0.0.0.0", "::", ""):
            log.warning("listening on every network interface%s", "" if self.allow_ae else " and any calling AE title may associate")

    def stop(self) -> None:
        """Stop the network, the sender and the scorer."""
        already = self._stop.is_set()
        self._stop.set()
        if already:
            return
        if self._server is not None:
            self._server.shutdown()
        with self._child_lock:
            child = self._child
        if child is not None:
            child.terminate()
            child.join(10)
            self.state.note_clean_stop()
        self._restore_config()
        self.state.unlock()

    def wait(self) -> int:
        """Block until :meth:`stop` (or a signal that calls it), watching the scorer and logging now and then; the exit code."""
        last = (-1, -1, -1)
        next_log = time.monotonic()
        while not self._stop.wait(WATCH_S):
            self._watch_scorer()
            if time.monotonic() >= next_log:
                now = (self.counts.received, self.counts.scored, self.counts.sent)
                if now != last:
                    log.info("received %d, scored %d, sent %d objects; %d refused", now[0], now[1], now[2], self.counts.refused)
                    last = now
                next_log = time.monotonic() + 10
        return self.exit_code
