"""Keeping the node's doors open for everyone: limits on who holds an association, for how long, with what.

pynetdicom's own timeout is reset by any traffic, so a caller that echoes every 20 s
holds its slot for ever; sixteen of them locked every modality out. The gatekeeper
watches the open associations and aborts

- a caller's associations beyond ``per_caller`` (a caller is its address and AE title),
  newest first;
- an association open longer than ``lifetime_s``;
- an association with no C-STORE for ``idle_s`` (an echo does not count);
- an association that is sending a film far over the size limit (it is aborted while
  the film is still arriving rather than written to the disk whole).

pynetdicom refuses associations beyond ``max_associations`` itself. Aborts happen on the
gatekeeper's own thread: an association cannot be aborted from its own event handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .settings import Limits

log = logging.getLogger(__name__)

#: How often the open associations are checked (seconds).
POLL_S = 0.5
#: Bytes received since the last answer above which a film is taken to be arriving (an echo is a few hundred bytes).
ARRIVING = 64 * 1024
#: A film this many times over the size limit is cut off while it arrives; up to then it
#: arrives whole and is refused with a status (which a sender understands better than an abort).
HARD_FACTOR = 2


@dataclass
class _Open:
    assoc: Any
    caller: tuple[str, str]
    opened: float
    last_store: float
    receiving: int = 0  # bytes received since the last C-STORE was answered
    verdict: str = ""  # why it is to be aborted


@dataclass
class Gatekeeper:
    """Watches the node's associations and aborts those over a limit.

    Args:
        limits: The limits (:class:`~cxr_miliary.pacs.settings.Limits`).
    """

    limits: Limits
    _open: dict[int, _Open] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handlers(self) -> list[tuple[Any, Any]]:
        """pynetdicom event handlers to bind (with the node's own C-STORE handler)."""
        from pynetdicom import evt

        return [
            (evt.EVT_ESTABLISHED, self._opened),
            (evt.EVT_RELEASED, self._closed),
            (evt.EVT_ABORTED, self._closed),
            (evt.EVT_CONN_CLOSE, self._closed),
            (evt.EVT_DATA_RECV, self._data),
            (evt.EVT_C_ECHO, self._echo),
        ]

    def _opened(self, event: Any) -> None:
        a = event.assoc
        now = time.monotonic()
        with self._lock:
            self._open[id(a)] = _Open(a, (str(a.requestor.address), str(a.requestor.ae_title).strip()), now, now)

    def _closed(self, event: Any) -> None:
        with self._lock:
            self._open.pop(id(event.assoc), None)

    def _data(self, event: Any) -> None:
        with self._lock:
            entry = self._open.get(id(event.assoc))
            if entry is not None:
                entry.receiving += len(event.data)
                if entry.receiving > HARD_FACTOR * self.limits.max_film_bytes and not entry.verdict:
                    entry.verdict = f"a film over {HARD_FACTOR}x --max-film-mb was still arriving"

    def _echo(self, event: Any) -> int:
        """Answer a C-ECHO; its bytes are not a film arriving (and it does not make the association active)."""
        with self._lock:
            entry = self._open.get(id(event.assoc))
            if entry is not None:
                entry.receiving = 0
        return 0x0000

    def stored(self, assoc: Any) -> None:
        """A C-STORE was answered on ``assoc``: it is not idle, and the next film's bytes count from zero."""
        with self._lock:
            entry = self._open.get(id(assoc))
            if entry is not None:
                entry.last_store = time.monotonic()
                entry.receiving = 0

    def count(self) -> int:
        """Associations open now."""
        with self._lock:
            return len(self._open)

    def verdicts(self, now: float | None = None) -> list[tuple[Any, str]]:
        """The associations to abort now, each with why."""
        now = time.monotonic() if now is None else now
        lim = self.limits
        with self._lock:
            why: dict[int, str] = {k: e.verdict for k, e in self._open.items() if e.verdict}  # a film cut off while arriving
            by_caller: dict[tuple[str, str], list[_Open]] = {}
            for e in self._open.values():
                by_caller.setdefault(e.caller, []).append(e)
            for entries in by_caller.values():
                for e in sorted(entries, key=lambda e: e.opened)[lim.per_caller :]:
                    why.setdefault(id(e.assoc), f"more than {lim.per_caller} associations from one caller")
            for k, e in self._open.items():
                if now - e.opened > lim.lifetime_s:
                    why.setdefault(k, f"open longer than {lim.lifetime_s:g} s")
                elif now - e.last_store > lim.idle_s and e.receiving < ARRIVING:
                    why.setdefault(k, f"no image stored for {lim.idle_s:g} s")
            return [(self._open[k].assoc, w) for k, w in why.items()]

    def run(self, stop: threading.Event) -> None:
        """Abort what :meth:`verdicts` names, every :data:`POLL_S`, until ``stop`` is set."""
        while not stop.wait(POLL_S):
            for assoc, why in self.verdicts():
                log.warning("an association was aborted: %s", why)
                try:
                    assoc.abort()
                except Exception as exc:  # already gone
                    log.debug("abort failed (%s)", type(exc).__name__)
                with self._lock:
                    self._open.pop(id(assoc), None)
