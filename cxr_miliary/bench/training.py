"""``cxr-miliary bench train``: can the data pipeline feed the model?

Measured in one run, at the same input size and batch: the training data pipeline alone
(``prepare`` cache -> augmentation -> batches, N workers), where its time goes (cache
read, augmentation, collation, host-to-device copy), and the model's forward + backward +
optimiser step on synthetic tensors (no data loading), at the chosen precision, on the
GPU when there is one. Their ratio, and the workers the model would need, say whether the
GPU would wait for data. Benchmarks, not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _stage_times(ds: Any, n: int, batch: int) -> dict[str, float]:
    """Milliseconds per image of cache read and augmentation, and per batch of collation, in this process."""
    import torch

    from ..data import collate_skip
    from ..transforms import to_tensor

    t_read = t_aug = 0.0
    samples = []
    for i in range(n):
        t = time.perf_counter()
        pixels = ds.pixels(i % len(ds))
        t_read += time.perf_counter() - t
        t = time.perf_counter()
        ds.transform.set_random_seed(i)
        image = to_tensor(pixels, ds.transform, ds.channels)
        t_aug += time.perf_counter() - t
        if len(samples) < batch:
            samples.append({"image": image, "label": torch.tensor(0.0), "index": i})
    t = time.perf_counter()
    collate_skip(samples)
    t_collate = time.perf_counter() - t
    return {"cache_read_ms": t_read / n * 1000, "augment_ms": t_aug / n * 1000, "collate_ms_per_batch": t_collate * 1000}


def _pipeline_rate(ds: Any, batch: int, workers: int, batches: int, device: str) -> dict[str, float]:
    """Images/s of the DataLoader alone (and the host-to-device copy, timed separately)."""
    import torch
    from torch.utils.data import DataLoader

    from ..data import EpochSampler, collate_skip

    loader = DataLoader(
        ds,
        batch_size=batch,
        sampler=EpochSampler(ds.labels, "shuffle"),
        num_workers=workers,
        collate_fn=collate_skip,
        pin_memory=device == "cuda",
        persistent_workers=False,
        prefetch_factor=4 if workers else None,
    )
    it = iter(loader)
    next(it)  # start-up (worker fork) is not throughput
    n, h2d = 0, 0.0
    t = time.perf_counter()
    for _ in range(batches):
        try:
            b = next(it)
        except StopIteration:
            it = iter(loader)
            b = next(it)
        n += len(b["image"])
        if device == "cuda":
            s = time.perf_counter()
            b["image"].to(device, non_blocking=True)
            torch.cuda.synchronize()
            h2d += time.perf_counter() - s
    elapsed = time.perf_counter() - t
    return {"img_s": n / elapsed, "h2d_ms_per_batch": h2d / batches * 1000}


def _model_rate(backbone: str, head: str, size: int, batch: int, precision: str, device: str, steps: int) -> float:
    """Images/s of forward + backward + AdamW step on synthetic batches (no data loading)."""
    import torch

    from ..training.module import MiliaryModule

    module = MiliaryModule(backbone=backbone, head=head, in_chans=1, channels_last=True).to(device).train()
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    x = torch.randn(batch, 1, size, size, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (batch,), device=device).float()
    bf16 = precision.startswith("bf16")

    def step() -> None:
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = module.loss_fn(module(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t)


def train_bench(
    *,
    n: int = 256,
    size: int = 512,
    batch: int = 32,
    workers: tuple[int, ...] = (0, 1, 2),
    device: str = "auto",
    precision: str = "bf16-mixed",
    backbone: str = "resnet10t",
    head: str = "grid",
    steps: int = 20,
    batches: int = 20,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Measure and return the pipeline and model figures (also logged)."""
    import pandas as pd
    import torch

    from ..data import ManifestDataset, prepare_cache
    from ..inference.fastpath import machine
    from ..phantom import generate_phantoms
    from ..transforms import Augment, Preprocess, train_transform

    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    res: dict[str, Any] = {"device": machine(device), "size": size, "batch": batch, "precision": precision, "backbone": backbone, "head": head}
    with tempfile.TemporaryDirectory() as tmp:
        man = generate_phantoms(n, Path(tmp) / "ph", seed=7070, size=max(size, 512), formats=("png",), workers=max(workers))
        prepare_cache(man, Path(tmp) / "cache", size=size, workers=max(workers))
        rows = pd.read_csv(man)
        ds = ManifestDataset(rows, Path(man).parent, train_transform(Preprocess(image_size=size), Augment()), 1, Path(tmp) / "cache")
        res.update(_stage_times(ds, min(64, n), batch))
        log(
            f"training data pipeline at {size}², batch {batch}, {res['device']}: cache read {res['cache_read_ms']:.1f} ms/img, "
            f"augmentation {res['augment_ms']:.1f} ms/img, collation {res['collate_ms_per_batch']:.1f} ms/batch (one process)"
        )
        res["pipeline"] = {}
        for w in workers:
            r = _pipeline_rate(ds, batch, w, batches, device)
            res["pipeline"][w] = r
            log(
                f"  pipeline with {w} workers: {r['img_s']:7.1f} img/s"
                + (f"; host-to-device {r['h2d_ms_per_batch']:.2f} ms/batch" if device == "cuda" else "")
            )
    model = _model_rate(backbone, head, size, batch, precision, device, steps)
    res["model_img_s"] = model
    best_w = max(res["pipeline"], key=lambda w: res["pipeline"][w]["img_s"])
    per_worker = res["pipeline"][best_w]["img_s"] / max(best_w, 1)
    res["ratio_pipeline_to_model"] = res["pipeline"][best_w]["img_s"] / model
    res["workers_needed"] = math.ceil(model / per_worker) if per_worker > 0 else None
    log(f"model forward+backward ({backbone}, {head} head, {precision}) on {device}: {model:.1f} img/s")
    log(
        f"pipeline / model = {res['ratio_pipeline_to_model']:.2f} with {best_w} workers; about {res['workers_needed']} workers "
        f"({per_worker:.0f} img/s each) would keep this model fed"
    )
    return res


def parse_workers(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> (0, 1, 2); ValueError for anything else."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 0:
        raise ValueError(f"{text!r}: give a comma list of worker counts >= 0, e.g. 0,4,8")
    return values
