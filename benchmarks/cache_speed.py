"""Samples/s from a ``prepare`` cache vs from the original 2048² DICOMs, same transforms.

Run: ``python benchmarks/cache_speed.py [--n 40] [--work /tmp/cache_bench]`` (a benchmark,
not a test). One process, no DataLoader workers, so the figures compare decode paths.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from cxr_miliary.data import ManifestDataset, prepare_cache
from cxr_miliary.phantom import generate_phantoms
from cxr_miliary.transforms import Augment, Preprocess, train_transform


def _rate(ds: ManifestDataset) -> float:
    t = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return len(ds) / (time.perf_counter() - t)


def main() -> None:
    """Generate phantoms if needed, prepare the cache, and time both paths."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--cache-size", type=int, default=1024)
    ap.add_argument("--work", default="/tmp/cxr_cache_bench")
    args = ap.parse_args()
    work = Path(args.work)
    manifest = work / "manifest.csv"
    if not manifest.exists():
        generate_phantoms(args.n, work, size=args.size, formats=("dcm",), workers=2)
    t = time.perf_counter()
    prepare_cache(manifest, work / "cache", size=args.cache_size, workers=2)
    prep = time.perf_counter() - t
    rows = pd.read_csv(manifest)
    tf = train_transform(Preprocess(image_size=512), Augment())
    direct = _rate(ManifestDataset(rows, work, tf))
    cached = _rate(ManifestDataset(rows, work, tf, cache_dir=work / "cache"))
    print(f"{args.n} phantom DICOMs at {args.size}², train transform to 512², one process:")
    print(f"  from DICOM   {direct:7.1f} samples/s")
    print(f"  from cache   {cached:7.1f} samples/s  ({args.cache_size}² uint16 .npy)  speed-up {cached / direct:.1f}x")
    print(f"  prepare      {args.n / prep:7.1f} images/s with 2 workers")


if __name__ == "__main__":
    main()
