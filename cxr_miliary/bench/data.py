"""Data benchmarks: phantom rendering per core, and the ``prepare`` cache against decoding.

``cxr-miliary bench phantom`` and ``cxr-miliary bench cache``. Benchmarks, not tests:
nothing here asserts a speed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def phantom_speed(n: int = 40, size: int = 1024, log: Callable[[str], Any] = print) -> dict[str, float]:
    """Images per second on one process: rendering only, and rendering + writing each format."""
    from ..phantom import generate_phantoms, render_phantom

    render_phantom(99, 0, size)  # warm-up (imports, allocator)
    t = time.perf_counter()
    for i in range(n):
        render_phantom(1, i, size)
    out = {"render": n / (time.perf_counter() - t)}
    for fmt in ("png", "dcm"):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            generate_phantoms(n, Path(tmp), seed=1, size=size, formats=(fmt,))
            out[f"render+write {fmt}"] = n / (time.perf_counter() - t)
    log(f"phantom throughput, {size}x{size}, one process (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}):")
    for name, rate in out.items():
        log(f"  {name:18s} {rate:6.2f} images/s")
    return out


def cache_speed(n: int = 40, size: int = 2048, cache_size: int = 1024, log: Callable[[str], Any] = print) -> dict[str, float]:
    """Samples/s from a ``prepare`` cache vs from the original DICOMs, same train transform, one process."""
    import pandas as pd

    from ..data import ManifestDataset, prepare_cache
    from ..phantom import generate_phantoms
    from ..transforms import Augment, Preprocess, train_transform

    def rate(ds: Any) -> float:
        t = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        return len(ds) / (time.perf_counter() - t)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = generate_phantoms(n, work, size=size, formats=("dcm",), workers=2)
        t = time.perf_counter()
        prepare_cache(manifest, work / "cache", size=cache_size, workers=2)
        prep = n / (time.perf_counter() - t)
        rows = pd.read_csv(manifest)
        tf = train_transform(Preprocess(image_size=512), Augment())
        direct = rate(ManifestDataset(rows, work, tf))
        cached = rate(ManifestDataset(rows, work, tf, cache_dir=work / "cache"))
    log(f"{n} phantom DICOMs at {size}², train transform to 512², one process:")
    log(f"  from DICOM   {direct:7.1f} samples/s")
    log(f"  from cache   {cached:7.1f} samples/s  ({cache_size}² uint16 .npy)  speed-up {cached / direct:.1f}x")
    log(f"  prepare      {prep:7.1f} images/s with 2 workers")
    return {"from_dicom": direct, "from_cache": cached, "prepare": prep}
