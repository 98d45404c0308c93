"""Batch scoring of archives: decode in forked worker processes, batched inference, one row per input.

One row per input, always: a file that cannot be decoded (or is rejected) is an error
row with the same reason ``load_image`` gives; a decoder that kills its worker process,
or takes longer than the per-file time budget (the worker is killed by its own alarm),
costs no finished rows, and the file that did it becomes an error row too. Each image
goes through :func:`~cxr_miliary.inference.decoding.decode` (in the workers) and
:func:`~cxr_miliary.inference.result.complete` (here), and its files through
:func:`~cxr_miliary.outputs.files.write_result_files`, exactly as ``predict``'s one image does.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from enum import Enum
from typing import Any

from ..inference import decoding
from ..inference.decoding import Decoded, decode
from ..inference.result import Result, complete, error_result
from ..inference.scorer import Scorer
from ..io.limits import FILE_TIMEOUT_S
from ..outputs.files import Outputs
from ..workers import before_fork, die_with_parent, in_forked_child
from .options import ScoreOptions

log = logging.getLogger(__name__)


class Signal(str, Enum):
    """What a source of items says instead of an item when it has none ready."""

    #: Nothing is ready now but more may come soon: keep gathering.
    WAIT = "wait"
    #: Nothing is ready and none is expected soon: deliver a part-filled batch.
    FLUSH = "flush"


#: The signals by their first names (kept: callers and tests use them).
WAIT, FLUSH = Signal.WAIT, Signal.FLUSH
#: How long the pipeline sleeps when its source has nothing and nothing is being decoded.
IDLE_S = 0.05

Item = tuple[int, str]


class _Decode:
    """Worker-side work: :func:`~cxr_miliary.inference.decoding.decode` an ``(index, path)`` item (forked workers inherit this; only items are pickled)."""

    def __init__(self, scorer: Scorer, force: bool, preview_side: int | None | bool, file_timeout: float | None) -> None:
        self.view = scorer.view  # the network input and the part of the film it was made of
        self.force = force
        self.preview_side = preview_side
        self.file_timeout = file_timeout

    def __call__(self, item: Item) -> Decoded:
        index, path = item
        in_worker = _WORKER.active
        if in_worker and self.file_timeout:
            # the default action of SIGALRM ends the process, even inside a C decoder
            # that never returns to Python; the loader then reports a dead worker and
            # the file is isolated and reported as `timeout`
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.setitimer(signal.ITIMER_REAL, self.file_timeout)
        try:
            return decode(path, self.view, index=index, force=self.force, preview_side=self.preview_side)
        finally:
            if in_worker and self.file_timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)


class _WorkerState:
    """Set in forked decode workers: the decoder they run (inherited, never pickled)."""

    decoder: _Decode | None = None
    active = False


_WORKER = _WorkerState()


def _worker_start(parent: int) -> None:
    in_forked_child()
    die_with_parent(parent)
    _WORKER.active = True


def _decode_one(item: Item) -> Decoded:
    assert _WORKER.decoder is not None
    return _WORKER.decoder(item)


class WorkerDied(RuntimeError):
    """A decode worker process died (a codec crash, or its per-file alarm).

    Attributes:
        undelivered: The items sent to the workers and not delivered, in order (the culprit is among them).
    """

    def __init__(self, message: str, undelivered: list[Item]) -> None:
        super().__init__(message)
        self.undelivered = undelivered


def decoded_batches(
    decoder: _Decode, source: Iterator[Item | Signal], batch_size: int, workers: int, *, max_gather_s: float | None = None
) -> Iterator[list[Decoded]]:
    """Decoded items in order, in batches, from ``workers`` forked processes (0: in this process).

    ``source`` gives ``(index, path)`` items and may be endless: it says :data:`WAIT`
    when nothing is ready now (a part-filled batch waits for more, at most
    ``max_gather_s`` seconds) or :data:`FLUSH` (a part-filled batch is delivered). The
    worker processes live as long as the stream, so a node that scores films as they
    arrive does not start them again for every few films. At most
    ``2 x batch_size x workers`` items are in flight, so memory stays flat over an
    archive of any size. No torch: this is the decode pipeline of the torch-free install too.

    Raises:
        WorkerDied: A worker process died; what was decoded before it was delivered first.
    """
    if workers == 0:
        yield from _batches_here(decoder, source, batch_size, max_gather_s)
        return
    _WORKER.decoder = decoder  # inherited by the forked workers
    ahead = batch_size * workers * 2
    before_fork()
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_worker_start, initargs=(os.getpid(),))
    try:
        pending: deque = deque()  # (item, future), in order
        batch: list[Decoded] = []
        ended, signal_, since = False, WAIT, time.monotonic()
        while True:
            while not ended and len(pending) < ahead:
                item = next(source, None)
                if item is None:
                    ended = True
                elif isinstance(item, Signal):  # WAIT or FLUSH: nothing ready now
                    signal_ = item
                    break
                else:
                    pending.append((item, pool.submit(_decode_one, item)))
            if pending:
                item, future = pending[0]
                try:
                    decoded = future.result()
                except BrokenProcessPool as exc:
                    if batch:
                        yield batch
                    raise WorkerDied(str(exc) or "a decode worker process died", [i for i, _ in pending]) from None
                pending.popleft()
                if not batch:
                    since = time.monotonic()
                batch.append(decoded)
                if len(batch) == batch_size:
                    yield batch
                    batch = []
                continue
            if batch and (ended or _deliver(signal_, since, max_gather_s)):
                yield batch
                batch = []
            if ended:
                return
            time.sleep(IDLE_S)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _WORKER.decoder = None


def _deliver(said: Signal, since: float, max_gather_s: float | None) -> bool:
    """Whether a part-filled batch, begun at ``since``, goes now that the source has said ``said`` (WAIT or FLUSH)."""
    return said == FLUSH or max_gather_s is None or time.monotonic() - since >= max_gather_s


def _batches_here(decoder: _Decode, source: Iterator[Item | Signal], batch_size: int, max_gather_s: float | None) -> Iterator[list[Decoded]]:
    """:func:`decoded_batches` without worker processes (no time budget per file)."""
    batch: list[Decoded] = []
    since = time.monotonic()
    for item in source:
        if isinstance(item, Signal):
            if batch and _deliver(item, since, max_gather_s):
                yield batch
                batch = []
            else:
                time.sleep(IDLE_S)
            continue
        if not batch:
            since = time.monotonic()
        batch.append(decoder(item))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _probe(path: str, force: bool, parent: int) -> None:
    import faulthandler

    in_forked_child()
    faulthandler.disable()  # a crash here is expected and reported as a row, not a dump
    die_with_parent(parent)
    decoding.load_image(path, force=force)  # the decoder the workers ran (one place to replace it in tests)


def isolate(path: str, force: bool, timeout: float = FILE_TIMEOUT_S) -> str | None:
    """Decode ``path`` in a throw-away process: the error row's text if it dies or hangs, else None."""
    ctx = mp.get_context("fork")
    before_fork()
    proc = ctx.Process(target=_probe, args=(path, force, os.getpid()))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return f"timeout: decoding took longer than the {timeout:g} s budget per file"
    if proc.exitcode in (0, 1):
        return None
    return f"decoder-crashed: the decoder process died (exit {proc.exitcode}) on this file"


def written(scorer: Scorer, outputs: Outputs, result: Result) -> Result:
    """``result`` once its files are written; an error result when they cannot be (one bad image never ends a job).

    A full disk is not the image's fault: with ``outputs.space_wait_s`` the write waits for
    space and tries again; without, the job stops with the "no space left" error.
    """
    from ..atomic import WriteError, is_no_space

    waited = False
    while True:
        try:
            outputs.write(result)
            return result
        except Exception as exc:
            if is_no_space(exc) and outputs.space_wait_s is not None:
                if not waited:
                    log.error("no space left on the device for results; waiting for space (nothing acknowledged is lost)")
                    waited = True
                time.sleep(outputs.space_wait_s)
                continue
            if is_no_space(exc) or isinstance(exc, WriteError):
                raise
            from ..outputs.dicom import InvalidSourceError

            # write_result_files left nothing of this result behind (all or nothing)
            reason = str(exc) if isinstance(exc, InvalidSourceError) else f"output-failed: its result files could not be built ({type(exc).__name__})"
            log.warning("an image's result files could not be written (%s); its row carries the error", type(exc).__name__)
            failed = error_result(scorer, result.index, result.path, reason)
            if outputs.not_analysed:
                with contextlib.suppress(Exception):
                    outputs.write(failed)
            return failed


def score_rows(scorer: Scorer, paths: list[str], options: ScoreOptions | None = None, **keywords: Any) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of result rows, one list per batch, one row for every path.

    Args:
        scorer: The model (:attr:`Predictor.scorer <cxr_miliary.predictor.Predictor.scorer>`).
        paths: Input files (already expanded).
        options: How the job runs (:class:`~cxr_miliary.scoring.options.ScoreOptions`).
        **keywords: Its fields, to change (``batch_size=``, ``outputs=``, ...).
    """
    return score_stream(scorer, enumerate(paths), options, **keywords)


def score_stream(
    scorer: Scorer, source: Iterable[Item | Signal], options: ScoreOptions | None = None, *, each: bool = False, **keywords: Any
) -> Iterator[list[dict[str, Any]]]:
    """:func:`score_rows` over ``(index, path)`` items that may keep coming (``serve``'s queue).

    ``source`` may say :data:`WAIT` or :data:`FLUSH` when it has nothing ready (see
    :func:`decoded_batches`). Workers decode; this process runs the model. If a worker
    dies (a native codec crash, or its per-file alarm), the files it may have held are
    probed one by one in throw-away processes: the culprits become error rows and the
    others are decoded again by fresh workers.

    Args:
        scorer: The model.
        source: ``(index, path)`` items, :data:`WAIT` or :data:`FLUSH`; it may never end.
        options: How the job runs (:class:`~cxr_miliary.scoring.options.ScoreOptions`:
            batch size, workers, outputs, CAM method, force, file timeout, gathering).
        each: Yield each row as soon as its files are written (a node sends a result on while
            the rest of its batch is written), not a batch's rows together.
        **keywords: Fields of ``options`` to change.
    """
    opts = ScoreOptions.of(options, **keywords)
    outputs, force, file_timeout = opts.outputs, opts.force, opts.file_timeout
    batch_size, num_workers, max_gather_s, cam_method = opts.batch_size, opts.num_workers, opts.max_gather_s, opts.cam_method
    for folder in (outputs.cam_dir, outputs.dicom_out):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    decoder = _Decode(scorer, force, outputs.preview_side, file_timeout)
    items = iter(source)
    while True:
        try:
            for batch in decoded_batches(decoder, items, batch_size, num_workers, max_gather_s=max_gather_s):
                results = [written(scorer, outputs, r) for r in complete(scorer, batch, maps=outputs.maps, method=cam_method)]
                for r in results:
                    if each:
                        yield [r.to_row()]
                if not each:
                    yield [r.to_row() for r in results]
            return
        except WorkerDied as exc:
            log.warning("a decoder worker died (%s); isolating the file responsible", str(exc).splitlines()[0])
            culprits, innocent = [], []
            for i, p in exc.undelivered:
                reason = isolate(p, force, file_timeout or FILE_TIMEOUT_S)
                if reason is None:
                    innocent.append((i, p))
                else:
                    culprits.append(error_result(scorer, i, p, reason))
            if not culprits:  # could not reproduce: mark the first suspect so the job always progresses
                i, p = innocent.pop(0)
                culprits.append(error_result(scorer, i, p, "decoder-crashed: a decoder worker died while this file was being read"))
            # rows stay in input order: the culprits' rows come before the innocent files decoded again
            yield [r.to_row() for r in culprits]
            items = itertools.chain(innocent, items)
