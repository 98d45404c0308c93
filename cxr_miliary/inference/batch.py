"""Batch scoring of archives: decode in DataLoader workers, batched inference, durable rows.

One row per input, always: a file that cannot be decoded (or is rejected) is an error
row with the same reason ``load_image`` gives; a decoder that kills its worker process
costs no finished rows, and the file that did it becomes an error row too.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..explain import absolute_map, caption, distribution, estimate_lung_mask, overlay, raw_cam, save_png, to_image
from ..io import ImageError, load_image
from ..lung_zones import ZONE_NAMES
from ..transforms import to_tensor

if TYPE_CHECKING:
    from .predictor import Predictor

log = logging.getLogger(__name__)

BASE_COLUMNS = ["path", "probability", "positive", "threshold", "error", "model_name", "model_sha256"]
CAM_COLUMNS = ["pattern", "right", "left", *ZONE_NAMES, "cam_path", "overlay_path"]
OVERLAY_SIDE = 768


class _Decode(Dataset):
    """Worker-side work: decode, build the input tensor, and (for CAM) a small preview + lung mask."""

    def __init__(self, items: list[tuple[int, str]], predictor: Predictor, cam: bool, force: bool) -> None:
        self.items = items
        self.transform = predictor.transform
        self.channels = predictor.preprocess.channels
        self.cam = cam
        self.force = force

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict[str, Any]:
        index, path = self.items[k]
        out: dict[str, Any] = {"index": index, "path": path, "error": ""}
        try:
            rad = load_image(path, force=self.force)
        except ImageError as exc:
            out["error"] = f"{exc.code}: {exc.reason}"
            return out
        except Exception as exc:  # a decoder bug is one file's problem
            out["error"] = f"decode-failed: {type(exc).__name__}"
            return out
        out["tensor"] = to_tensor(rad.pixels, self.transform, self.channels)
        out["is_dicom"] = rad.meta.source_format == "dicom"
        if self.cam:
            h, w = rad.shape
            f = min(1.0, OVERLAY_SIDE / max(h, w))
            out["preview"] = cv2.resize(rad.pixels, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
            out["lungs"] = estimate_lung_mask(out["preview"])
            out["shape"] = (h, w)
        return out


def _collate(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return items



def _probe(path: str, force: bool) -> None:
    import faulthandler

    faulthandler.disable()  # a crash here is expected and reported as a row, not a dump
    load_image(path, force=force)


def crashes_decoder(path: str, force: bool, timeout: float = 120.0) -> int | None:
    """Decode ``path`` in a throw-away process; return the signal/exit code if it died."""
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_probe, args=(path, force))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return -9
    return None if proc.exitcode in (0, 1) else proc.exitcode


def cam_name(index: int, path: str) -> str:
    """A file name unique per input, free of anything taken from the file or its tags."""
    return f"{index:07d}_{hashlib.sha1(path.encode('utf-8')).hexdigest()[:12]}"


def score_rows(
    predictor: Predictor,
    paths: list[str],
    *,
    batch_size: int = 16,
    num_workers: int = 2,
    cam: bool = False,
    cam_dir: str | Path | None = None,
    cam_method: str = "gradcam",
    force: bool = False,
    dicom_out: str | Path | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of result rows, one list per batch, one row for every path.

    Workers decode; the main process runs the model. If a worker dies (a native codec
    crash), the files it may have held are probed one by one in throw-away processes:
    the culprits become error rows and scoring resumes with a fresh loader.
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
        loader = DataLoader(
            _Decode(remaining, predictor, cam, force), batch_size=batch_size, num_workers=num_workers,
            # torch already runs each worker single-threaded, so workers + model threads do
            # not oversubscribe the cores; re-configuring OpenCV's pool after fork can hang
            collate_fn=_collate, persistent_workers=False, prefetch_factor=2 if num_workers else None,
        )
        try:
            for batch in loader:
                rows = _infer(predictor, batch, cam, cam_root, cam_method, dicom_out)
                yield _public(rows, done)
            return
        except RuntimeError as exc:
            if "DataLoader worker" not in str(exc):
                raise
            log.warning("a decoder worker died (%s); isolating the file responsible", str(exc).splitlines()[0])
            suspects = [(i, p) for i, p in remaining if i not in done][: batch_size * max(num_workers, 1) * 2]
            crashed = []
            for i, p in suspects:
                code = crashes_decoder(p, force)
                if code is not None:
                    crashed.append(_error_row(predictor, i, p, f"decoder-crashed: the decoder process died (exit {code}) on this file"))
            if not crashed:  # could not reproduce: mark the first suspect so the job always progresses
                i, p = suspects[0]
                crashed.append(_error_row(predictor, i, p, "decoder-crashed: a decoder worker died while this file was being read"))
            yield _public(crashed, done)


def _public(rows: list[dict[str, Any]], done: set[int]) -> list[dict[str, Any]]:
    """Mark rows' inputs as done and drop the internal index."""
    done.update(r["_index"] for r in rows)
    return [{k: v for k, v in r.items() if k != "_index"} for r in rows]


def _error_row(predictor: Predictor, index: int, path: str, error: str) -> dict[str, Any]:
    return {"_index": index, "path": path, "probability": None, "positive": None, "threshold": predictor.threshold,
            "error": error, "model_name": predictor.model_info["name"], "model_sha256": predictor.model_info["sha256"]}


def _infer(predictor: Predictor, batch: list[dict[str, Any]], cam: bool, cam_root: Path | None, method: str, dicom_out: str | Path | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    good = [b for b in batch if not b["error"]]
    probs: np.ndarray = np.zeros(0)
    if good:
        x = torch.stack([b["tensor"] for b in good])
        probs = predictor.probability(predictor.logits(x).numpy())
        maps = raw_cam(predictor.model, predictor.model.get_submodule(predictor.cam_layer_name), x.to(predictor.device), method) if cam else None
    k = 0
    for b in batch:
        if b["error"]:
            rows.append(_error_row(predictor, b["index"], b["path"], b["error"]))
            continue
        p = float(probs[k])
        row = {"_index": b["index"], "path": b["path"], "probability": round(p, 6), "positive": bool(p >= predictor.threshold),
               "threshold": predictor.threshold, "error": "", "model_name": predictor.model_info["name"], "model_sha256": predictor.model_info["sha256"]}
        if cam and maps is not None:
            _explain_row(row, b, maps[k], p, predictor, cam_root, dicom_out)
        rows.append(row)
        k += 1
    return rows


def _explain_row(row: dict[str, Any], b: dict[str, Any], raw: np.ndarray, p: float, predictor: Predictor, cam_root: Path | None, dicom_out: str | Path | None = None) -> None:
    h, w = b["shape"]
    preview_lungs = b["lungs"]
    lungs = cv2.resize(preview_lungs.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    full = absolute_map(to_image(raw, predictor.preprocess.image_size, (h, w)), p, lungs if lungs.any() else None)
    dist = distribution(full, lungs, row["positive"])
    row.update({"pattern": dist["pattern"], "right": dist["right"], "left": dist["left"], **dist["zones"]})
    if cam_root is None and (dicom_out is None or not b.get("is_dicom")):
        return
    small = cv2.resize(full, (b["preview"].shape[1], b["preview"].shape[0]), interpolation=cv2.INTER_AREA)
    rgb = overlay(b["preview"], small, preview_lungs, caption(p, row["positive"], dist["pattern"]))
    if dicom_out is not None and b.get("is_dicom"):
        from ..outputs import write_dicom_results

        result = {"probability": p, "threshold": row["threshold"], "positive": row["positive"], "distribution": dist, "model": predictor.model_info}
        row["dicom_outputs"] = ";".join(str(x) for x in write_dicom_results(b["path"], dicom_out, result, rgb))
    if cam_root is not None:
        name = cam_name(b["index"], b["path"])
        npy = cam_root / f"{name}.npy"
        tmp = cam_root / f"{name}.tmp.npy"
        np.save(tmp, full.astype(np.float16), allow_pickle=False)
        tmp.replace(npy)
        png = save_png(cam_root / f"{name}.png", rgb)
        row["cam_path"], row["overlay_path"] = str(npy), str(png)
