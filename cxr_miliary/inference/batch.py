"""Batch scoring of archives: decode in forked worker processes, batched inference, one row per input.

One row per input, always: a file that cannot be decoded (or is rejected) is an error
row with the same reason ``load_image`` gives; a decoder that kills its worker process,
or takes longer than the per-file time budget (the worker is killed by its own alarm),
costs no finished rows, and the file that did it becomes an error row too. Maps go
through :mod:`cxr_miliary.explain.pipeline` and files through :mod:`cxr_miliary.outputs`,
exactly as ``predict`` does.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from ..explain import caption, explain, lung_fields
from ..io import ImageError, load_image
from ..io.limits import FILE_TIMEOUT_S
from ..outputs.images import overlay_rgb, preview, save_map, save_png
from .integrity import assess, chest_verdict

log = logging.getLogger(__name__)


class _Decode:
    """Worker-side work: decode, build the network input, and (for maps) a preview + lung fields."""

    def __init__(self, items: list[tuple[int, str]], predictor: Any, cam: bool, force: bool, file_timeout: float | None) -> None:
        self.items = items
        self.inputs = predictor.inputs  # forked workers share the Predictor; nothing is pickled
        self.cam = cam
        self.force = force
        self.file_timeout = file_timeout

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict[str, Any]:
        index, path = self.items[k]
        in_worker = _WORKER.active
        if in_worker and self.file_timeout:
            # the default action of SIGALRM ends the process, even inside a C decoder
            # that never returns to Python; the loader then reports a dead worker and
            # the file is isolated and reported as `timeout`
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.setitimer(signal.ITIMER_REAL, self.file_timeout)
        try:
            return self._decode(index, path)
        finally:
            if in_worker and self.file_timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)

    def _decode(self, index: int, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {"index": index, "path": path, "error": ""}
        try:
            rad = load_image(path, force=self.force)
            lungs = lung_fields(rad.pixels)
            out["verdict"] = chest_verdict(path, rad.pixels, lungs, self.force)
        except ImageError as exc:
            out["error"] = f"{exc.code}: {exc.reason}"
            return out
        except Exception as exc:  # a decoder bug is one file's problem
            out["error"] = f"decode-failed: {type(exc).__name__}"
            return out
        out["inputs"] = self.inputs(rad)
        out["is_dicom"] = rad.meta.source_format == "dicom"
        if self.cam:
            out["preview"] = preview(rad.pixels)
            out["lungs"] = lungs
        return out


class _WorkerState:
    """Set in forked decode workers: the dataset they read (inherited, never pickled)."""

    dataset: _Decode | None = None
    active = False


_WORKER = _WorkerState()


def _worker_start() -> None:
    _WORKER.active = True


def _decode_one(k: int) -> dict[str, Any]:
    assert _WORKER.dataset is not None
    return _WORKER.dataset[k]


class WorkerDied(RuntimeError):
    """A decode worker process died (a codec crash, or its per-file alarm)."""


def decoded_batches(dataset: _Decode, batch_size: int, workers: int) -> Iterator[list[dict[str, Any]]]:
    """Decoded items in order, in batches, from ``workers`` forked processes (0: in this process).

    At most ``2 x batch_size x workers`` items are in flight, so memory stays flat over an
    archive of any size. No torch: this is the decode pipeline of the torch-free install too.

    Raises:
        WorkerDied: A worker process died; the items after the last batch yielded were not delivered.
    """
    n = len(dataset)
    if workers == 0:
        for start in range(0, n, batch_size):
            yield [dataset[k] for k in range(start, min(n, start + batch_size))]
        return
    _WORKER.dataset = dataset  # inherited by the forked workers
    ahead = batch_size * workers * 2
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_worker_start)
    try:
        pending: deque = deque()
        nxt, batch = 0, []
        while nxt < n or pending:
            while nxt < n and len(pending) < ahead:
                pending.append(pool.submit(_decode_one, nxt))
                nxt += 1
            try:
                batch.append(pending.popleft().result())
            except BrokenProcessPool as exc:
                raise WorkerDied(str(exc) or "a decode worker process died") from None
            if len(batch) == batch_size or (not pending and nxt >= n):
                yield batch
                batch = []
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _WORKER.dataset = None


def _probe(path: str, force: bool) -> None:
    import faulthandler

    faulthandler.disable()  # a crash here is expected and reported as a row, not a dump
    load_image(path, force=force)


def isolate(path: str, force: bool, timeout: float = FILE_TIMEOUT_S) -> str | None:
    """Decode ``path`` in a throw-away process: the error row's text if it dies or hangs, else None."""
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_probe, args=(path, force))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return f"timeout: decoding took longer than the {timeout:g} s budget per file"
    if proc.exitcode in (0, 1):
        return None
    return f"decoder-crashed: the decoder process died (exit {proc.exitcode}) on this file"


def cam_name(index: int, path: str) -> str:
    """A file name unique per input, free of anything taken from the file or its tags."""
    return f"{index:07d}_{hashlib.sha1(os.fsencode(path)).hexdigest()[:12]}"


def error_row(predictor: Any, index: int, path: str, error: str) -> dict[str, Any]:
    """The row of an input that has no result."""
    return {
        "_index": index,
        "path": path,
        "probability": None,
        "positive": None,
        "threshold": predictor.threshold,
        "error": error,
        "frontal_chest": None,
        "in_distribution": None,
        "ood_score": None,
        "reliable": None,
        **_model_columns(predictor),
    }


def _model_columns(predictor: Any) -> dict[str, str]:
    info = predictor.model_info
    return {"model_name": info["name"], "model_sha256": info["sha256"], "model_runtime": info.get("runtime", "")}


def score_rows(
    predictor: Any,
    paths: list[str],
    *,
    batch_size: int = 16,
    num_workers: int = 2,
    cam: bool = False,
    cam_dir: str | Path | None = None,
    cam_method: str = "gradcam",
    force: bool = False,
    dicom_out: str | Path | None = None,
    file_timeout: float | None = FILE_TIMEOUT_S,
) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of result rows, one list per batch, one row for every path.

    Workers decode; the main process runs the model. If a worker dies (a native codec
    crash, or its per-file alarm), the files it may have held are probed one by one in
    throw-away processes: the culprits become error rows and scoring resumes with fresh
    workers.

    Args:
        predictor: A :class:`~cxr_miliary.inference.Predictor`.
        paths: Input files (already expanded).
        batch_size: Images per forward.
        num_workers: Decode processes (0 decodes in this process, without a time budget).
        cam: Compute maps and the distribution columns.
        cam_dir: Write ``.npy`` maps and overlay PNGs here.
        cam_method: CAM method.
        force: Accept inputs the acceptance checks reject.
        dicom_out: Write DICOM SC + SR results for DICOM inputs here.
        file_timeout: Seconds a worker may spend decoding one file.
    """
    cam = cam or cam_dir is not None or dicom_out is not None
    cam_root = Path(cam_dir) if cam_dir is not None else None
    if cam_root is not None:
        cam_root.mkdir(parents=True, exist_ok=True)
    done: set[int] = set()
    while True:
        remaining = [(i, p) for i, p in enumerate(paths) if i not in done]
        if not remaining:
            return
        dataset = _Decode(remaining, predictor, cam, force, file_timeout)
        try:
            for batch in decoded_batches(dataset, batch_size, num_workers):
                yield _public(_infer(predictor, batch, cam, cam_root, cam_method, dicom_out), done)
            return
        except WorkerDied as exc:
            log.warning("a decoder worker died (%s); isolating the file responsible", str(exc).splitlines()[0])
            suspects = [(i, p) for i, p in remaining if i not in done][: batch_size * max(num_workers, 1) * 2]
            culprits = []
            for i, p in suspects:
                reason = isolate(p, force, file_timeout or FILE_TIMEOUT_S)
                if reason is not None:
                    culprits.append(error_row(predictor, i, p, reason))
            if not culprits:  # could not reproduce: mark the first suspect so the job always progresses
                i, p = suspects[0]
                culprits.append(error_row(predictor, i, p, "decoder-crashed: a decoder worker died while this file was being read"))
            yield _public(culprits, done)


def _public(rows: list[dict[str, Any]], done: set[int]) -> list[dict[str, Any]]:
    """Mark rows' inputs as done and drop the internal index."""
    done.update(r["_index"] for r in rows)
    return [{k: v for k, v in r.items() if k != "_index"} for r in rows]


def _infer(predictor: Any, batch: list[dict[str, Any]], cam: bool, cam_root: Path | None, method: str, dicom_out: Any) -> list[dict[str, Any]]:
    good = [b for b in batch if not b["error"]]
    probs: np.ndarray = np.zeros(0)
    maps: np.ndarray | None = None
    acts: np.ndarray | None = None
    if good:
        x = np.stack([b["inputs"] for b in good])
        fwd = predictor.runtime.forward(x, gradients=cam)
        acts = fwd.activations
        probs = predictor.probability(fwd.logits)
        maps = predictor.raw_maps(x, method, fwd) if cam else None
    rows: list[dict[str, Any]] = []
    k = 0
    for b in batch:
        if b["error"]:
            rows.append(error_row(predictor, b["index"], b["path"], b["error"]))
            continue
        p = float(probs[k])
        integrity = assess(b["verdict"], None if acts is None else acts[k], predictor.reference)
        row = {
            "_index": b["index"],
            "path": b["path"],
            "probability": round(p, 6),
            "positive": bool(p >= predictor.threshold),
            "threshold": predictor.threshold,
            "error": "",
            "frontal_chest": integrity.frontal_chest,
            "in_distribution": integrity.in_distribution,
            "ood_score": None if integrity.ood_score is None else round(integrity.ood_score, 4),
            "reliable": integrity.reliable,
            **_model_columns(predictor),
        }

        if maps is not None:
            _explain_row(row, b, maps[k], p, predictor, cam_root, dicom_out)
        rows.append(row)
        k += 1
    return rows


def _explain_row(row: dict[str, Any], b: dict[str, Any], raw: np.ndarray, p: float, predictor: Any, cam_root: Path | None, dicom_out: Any) -> None:
    exp = explain(raw, b["lungs"], input_size=predictor.preprocess.image_size, probability=p, positive=row["positive"])
    dist = exp.distribution
    row.update({"pattern": dist["pattern"], "right": dist["right"], "left": dist["left"], **dist["zones"]})
    if cam_root is None and (dicom_out is None or not b.get("is_dicom")):
        return
    rgb = overlay_rgb(b["preview"], exp.cam, exp.lung_mask, caption(p, row["positive"], dist["pattern"], row["reliable"]))
    if dicom_out is not None and b.get("is_dicom"):
        from ..outputs import write_dicom_results

        result = {
            "probability": p,
            "threshold": row["threshold"],
            "positive": row["positive"],
            "distribution": dist,
            "model": predictor.model_info,
            "reliable": row["reliable"],
        }
        row["dicom_outputs"] = ";".join(str(x) for x in write_dicom_results(b["path"], dicom_out, result, rgb))
    if cam_root is not None:
        name = cam_name(b["index"], b["path"])
        row["cam_path"] = str(save_map(cam_root / f"{name}.npy", exp.cam))
        row["overlay_path"] = str(save_png(cam_root / f"{name}.png", rgb))
