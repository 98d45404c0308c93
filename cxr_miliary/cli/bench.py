"""``cxr-miliary bench``: throughput, latency, memory and faithfulness on this machine."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command."""
    p = sub.add_parser("bench", help="throughput/latency/memory/faithfulness figures on this machine",
                       description="Generate phantom DICOMs and measure, in one run: model forward vs end-to-end score "
                       "throughput (fp32 eager, fp32 channels_last, the auto path, ONNX Runtime when exported; with and without Grad-CAM), "
                       "score vs a predict() loop, predict latency with and "
                       "without Grad-CAM, CLI cold start, faithfulness of the fast path, and score's peak memory for 200 vs 2000 inputs.")
    p.add_argument("--weights", default=None)
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--score-inputs", type=int, default=128, help="inputs per score/predict-loop run (the N files repeated; default 128)")
    p.add_argument("--no-memory", action="store_true", help="skip the 200 vs 2000 inputs memory runs")
    p.add_argument("--json", default=None, help="also write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run and print."""
    from ..benchmark import run_bench

    res = run_bench(args.weights, n=args.n, size=args.size, batch_size=args.batch_size, workers=args.workers,
                    memory=not args.no_memory, score_inputs=args.score_inputs, log=lambda s: (sys.stdout.write(s + "\n"), sys.stdout.flush()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2, default=str)
    return 0
