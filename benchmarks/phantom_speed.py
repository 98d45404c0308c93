"""Phantom generator throughput per core at 1024 x 1024 (a benchmark, not a test).

Run: ``OMP_NUM_THREADS=1 python benchmarks/phantom_speed.py [--n 40] [--size 1024]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from cxr_miliary.phantom import generate_phantoms, render_phantom


def bench(n: int, size: int) -> dict[str, float]:
    """Images per second on one core: rendering only, and rendering + writing each format."""
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
    return out


def main() -> None:
    """Print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()
    print(f"phantom throughput, {args.size}x{args.size}, one core (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}):")
    for name, rate in bench(args.n, args.size).items():
        print(f"  {name:18s} {rate:6.2f} images/s")


if __name__ == "__main__":
    main()
