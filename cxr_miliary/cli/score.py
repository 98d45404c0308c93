"""``cxr-miliary score INPUT... --out F``: one row per input file, resumable."""

from __future__ import annotations

import argparse
import sys

from .main import UsageError
from .predict import add_model_options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``score`` command."""
    p = sub.add_parser("score", help="score files, folders and list files into CSV/Parquet/JSONL",
                       description="Score every input (files, folders recursively, .txt/.csv lists) into one table with "
                       "exactly one row per input. Exit 0 all scored, 1 some rows carry an error, 2 usage error.")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", required=True, help="output table: .csv, .parquet or .jsonl")
    p.add_argument("--cam-dir", default=None, help="write a Grad-CAM .npy map and an overlay PNG per input here")
    p.add_argument("--cam", action="store_true", help="add the distribution columns without writing maps")
    p.add_argument("--dicom-out", default=None, metavar="DIR", help="DICOM Secondary Capture + SR per DICOM input, for PACS (these carry identifiers)")
    p.add_argument("--cam-method", default="gradcam", choices=["gradcam", "gradcam++", "hirescam", "layercam", "eigencam"])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="decoding worker processes")
    p.add_argument("--resume", action="store_true", help="skip inputs already in --out (or its journal)")
    p.add_argument("--force", action="store_true", help="score inputs the acceptance checks reject")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score and report; exit 1 when any row carries an error."""
    from ..inference.inputs import expand_inputs
    from ..inference.scoring import ScoreError, score_to_file
    from .predict import load_predictor

    if args.batch_size < 1 or args.workers < 0:
        raise UsageError("--batch-size must be >= 1 and --workers >= 0")
    try:
        paths = expand_inputs(args.inputs)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if not paths:
        raise UsageError("no input files found")
    predictor = load_predictor(args)
    try:
        stats = score_to_file(predictor, paths, args.out, batch_size=args.batch_size, num_workers=args.workers, cam=args.cam,
                              cam_dir=args.cam_dir, cam_method=args.cam_method, force=args.force, resume=args.resume,
                              progress=not args.quiet, dicom_out=args.dicom_out)
    except ScoreError as exc:
        raise UsageError(str(exc)) from None
    sys.stderr.write(f"{args.out}: {stats['rows']} rows ({stats['scored_now']} scored now), {stats['errors']} with an error\n")
    return 1 if stats["errors"] else 0
