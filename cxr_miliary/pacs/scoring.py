"""The node's scoring process: the queue, as films arrive, through exactly what ``score`` runs.

One stream for the process's life (:func:`~cxr_miliary.scoring.stream.score_stream`):
its decode workers keep decoding films as they arrive while the model scores the batch
before. Each row is recorded as soon as its SR and SC are written.

No single film may stop it, and a restart must never replay a crash:

- a film whose result files cannot be built becomes an error row (the stream's rule);
- a full disk makes the scorer wait for space and write again, never die (the node
  refuses new films meanwhile);
- every film the scorer takes is noted in ``attempts.jsonl``. After a scorer died, the
  films it had taken are scored one at a time; one that was alone in flight when a
  scorer died gets an error row ("scorer-crashed") and a "not analysed" report, and is
  not scored again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .queue import NodeState, row_of

log = logging.getLogger(__name__)

#: A part-filled batch waits for more films while the newest film is younger than this (seconds)...
GATHER_S = 1.0
#: ... but never longer than this for one batch.
MAX_GATHER_S = 3.0
#: How long the scorer waits before writing again when the disk is full (seconds).
SPACE_WAIT_S = 2.0
#: The error row of a film that was alone in flight when a scorer died.
CRASHED = "scorer-crashed: the scoring process died while this image was being scored (twice); it is not scored again"


@dataclass
class ModelSpec:
    """How the scoring process loads its model (picklable: the process is spawned)."""

    weights: str | None = None
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None

    def load(self) -> Any:
        """The Scorer of the bundle (the default one without weights)."""
        from ..predictor import Predictor

        kw = {"device": self.device, "precision": self.precision, "threads": self.threads}
        return (Predictor.load(self.weights, **kw) if self.weights else Predictor.from_pretrained(**kw)).scorer


class Arrivals:
    """The queue as an endless source for :func:`~cxr_miliary.scoring.stream.score_stream`.

    Each queued image not yet seen once, oldest first; when none is new, ``WAIT`` while
    the newest image is younger than ``gather_s`` (films are still arriving: a fuller
    batch is worth a moment) and ``FLUSH`` after that. Suspects (images a dead scorer had
    taken) go first and one at a time: the next is not given until the last one's row is
    recorded (:meth:`finished`).

    Args:
        state: The node's folders.
        seen: Keys already scored (or taken).
        suspects: Keys to score one at a time.
        gather_s: See above.
    """

    def __init__(self, state: NodeState, seen: set[str], suspects: set[str] | None = None, *, gather_s: float = GATHER_S) -> None:
        self.state, self.seen, self.suspects, self.gather_s = state, seen, set(suspects or ()), gather_s
        self.done: set[str] = set()

    def finished(self, key: str) -> None:
        """``key``'s row is recorded."""
        self.done.add(key)

    def __iter__(self) -> Iterator[tuple[int, str] | Any]:
        from ..scoring.stream import Signal

        index = 0
        newest = 0.0
        while True:
            new = []
            for p in self.state.pending():
                if p.stem not in self.seen:
                    new.append(p)
                elif p.stem in self.done:  # the same image sent again after it was scored
                    p.unlink(missing_ok=True)
            suspect = next((p for p in new if p.stem in self.suspects), None)
            if suspect is not None:
                key = suspect.stem
                self.seen.add(key)
                self.state.note_attempt(key, alone=True)
                yield index, str(suspect)
                index += 1
                while key not in self.done:  # alone in flight until its row is recorded
                    yield Signal.FLUSH
                continue
            if not new:
                yield Signal.WAIT if time.time() - newest < self.gather_s else Signal.FLUSH
                continue
            for p in new:
                self.seen.add(p.stem)
                self.state.note_attempt(p.stem, alone=False)
                with contextlib.suppress(OSError):
                    newest = max(newest, p.stat().st_mtime)
                yield index, str(p)
                index += 1


def record(state: NodeState, rows: list[dict[str, Any]]) -> None:
    """Append rows, waiting for space while the disk is full (a row is never dropped, the scorer never dies of it)."""
    from ..atomic import is_no_space

    waited = False
    while True:
        try:
            state.record(rows)
            return
        except OSError as exc:
            if not is_no_space(exc):
                raise
            if not waited:
                log.error("no space left for results.jsonl; waiting for space")
                waited = True
            time.sleep(SPACE_WAIT_S)


def node_options(out: str, batch_size: int = 16, workers: int = 2, sr: str = "tid1500") -> Any:
    """What the node's scorer runs: ``score``'s options with the node's outputs and gathering.

    SR + SC into ``out/dicom``, a "not analysed" report for a film without a result,
    writes that wait for disk space, part-filled batches that wait for more films.
    """
    from ..outputs.files import Outputs
    from ..scoring.options import ScoreOptions

    outputs = Outputs(maps=True, dicom_out=NodeState(out).dicom, sr=sr, not_analysed=True, space_wait_s=SPACE_WAIT_S)
    return ScoreOptions(batch_size=batch_size, num_workers=workers, outputs=outputs, max_gather_s=MAX_GATHER_S)


def score_forever(model: ModelSpec, out: str, parent: int, options: Any) -> None:
    """The scoring process: queued images through ``score``'s own path (:class:`~cxr_miliary.scoring.options.ScoreOptions`), rows recorded, until the parent ends."""
    from ..inference.result import error_result
    from ..scoring.stream import score_stream, written
    from ..workers import die_with_parent

    die_with_parent(parent)
    from ..io.phi import install_log_redaction

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    state = NodeState(out)
    scorer = model.load()
    outputs = options.outputs
    suspects, crashed = state.suspects()
    for key in sorted(crashed):
        path = state.queue / f"{key}.dcm"
        if path.exists():
            log.error("result %s: the scoring process died twice with this image in flight; recorded as an error, not scored again", key[:8])
            r = written(scorer, outputs, error_result(scorer, 0, str(path), CRASHED))
            record(state, [row_of(r.to_row(), key)])
    source = Arrivals(state, state.done_keys(), suspects - crashed)
    stream = score_stream(scorer, iter(source), options, each=True)
    for rows in stream:  # each row recorded as soon as its SR and SC are written: the sender need not wait for the batch
        records = [row_of(r, Path(r["path"]).stem) for r in rows]
        record(state, records)
        for r in records:
            source.finished(r["key"])
        log.debug("scored %d image(s)", len(records))
