"""``cxr-miliary score INPUT... --out F``: one row per input file, resumable."""

from __future__ import annotations

import argparse
import sys

from ._common import CAM_METHODS, UsageError, add_model_options, add_overlay_options, load_predictor, non_negative_int, positive_int, positive_seconds


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``score`` command."""
    from ..io.limits import FILE_TIMEOUT_S

    p = sub.add_parser(
        "score",
        help="score files, folders and list files into CSV/Parquet/JSONL",
        description="Score every input (files, folders recursively, .txt/.csv lists) into one table with "
        "exactly one row per input. Exit 0 all scored, 1 some rows carry an error, 2 usage error.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", required=True, help="output table: .csv, .parquet or .jsonl")
    p.add_argument("--cam-dir", default=None, help="write a map file and an overlay per input here")
    p.add_argument(
        "--map-format",
        default="compact",
        choices=["compact", "full"],
        help="compact (default): .npz at the map's own resolution, about 0.1-0.3 MB (read back at any size with "
        "cxr_miliary.explain.load_map); full: .npy float16 at the image's resolution (8 MB at 2,048 px)",
    )
    p.add_argument("--overlay-format", default="jpeg", choices=["jpeg", "png"], help="overlay encoding (default: jpeg)")
    p.add_argument("--cam", action="store_true", help="add the distribution columns without writing maps")
    p.add_argument(
        "--dicom-out", default=None, metavar="DIR", help="DICOM Secondary Capture + SR per DICOM input, for PACS (these carry identifiers)"
    )
    p.add_argument(
        "--stow",
        default=None,
        metavar="URL",
        help="with --dicom-out: send each SR and SC to this DICOMweb service by STOW-RS, each once (a rerun sends what is left)",
    )
    p.add_argument("--sr", default="tid1500", choices=["tid1500", "basic"], help="the SR with --dicom-out (default: a TID 1500 Measurement Report)")
    p.add_argument("--cam-method", default="gradcam", choices=CAM_METHODS)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--workers", type=non_negative_int, default=2, help="decoding worker processes")
    p.add_argument(
        "--file-timeout",
        type=positive_seconds,
        default=FILE_TIMEOUT_S,
        help="seconds a worker may spend decoding one file before it is replaced and the file becomes a "
        "'timeout' row (default: %(default)s; needs --workers >= 1)",
    )
    p.add_argument(
        "--review", default=None, metavar="HTML", help="then write the review page of the table here (as 'cxr-miliary review OUT --out HTML' does)"
    )
    p.add_argument("--resume", action="store_true", help="skip inputs already in --out (or its journal)")
    p.add_argument("--force", action="store_true", help="score inputs the acceptance checks reject")
    add_overlay_options(p)
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score and report; exit 1 when any row carries an error."""
    from ..outputs.files import Outputs
    from ..scoring.archive import ScoreError, check_outputs, score_to_file
    from ..scoring.inputs import InputListError, expand_inputs
    from ..scoring.options import ScoreOptions

    try:
        check_outputs(args.out, args.cam_dir, args.dicom_out)
        if args.stow:
            from ..pacs.settings import web_url

            if not args.dicom_out:
                raise ValueError("--stow sends the files --dicom-out writes: give --dicom-out DIR too")
            args.stow = web_url(args.stow)
        if args.review:
            from ..outputs.paths import check_file_target

            if not str(args.review).lower().endswith((".html", ".htm")):
                raise ValueError(f"{args.review}: --review must be an .html file")
            check_file_target(args.review, "the review page")
    except (ScoreError, ValueError) as exc:
        raise UsageError(str(exc).replace("--dest-web", "--stow")) from None
    # The bundles are checked before the inputs are listed: a typo in CXR_MILIARY_WEIGHTS is
    # reported at once, not after walking an archive.
    predictor = load_predictor(args)
    try:
        paths = expand_inputs(args.inputs)
        check_outputs(args.out, args.cam_dir, args.dicom_out, inputs=paths, given=args.inputs)
    except (ScoreError, InputListError) as exc:
        raise UsageError(str(exc)) from None
    if not paths:
        raise UsageError("no input files found")
    outputs = Outputs(
        maps=args.cam,
        cam_dir=args.cam_dir,
        map_format=args.map_format,
        overlay_format=args.overlay_format,
        overlay_side=args.overlay_size,
        dicom_out=args.dicom_out,
        sr=args.sr,
    )
    try:
        options = ScoreOptions(
            batch_size=args.batch_size,
            num_workers=args.workers,
            outputs=outputs,
            cam_method=args.cam_method,
            force=args.force,
            resume=args.resume,
            progress=not args.quiet,
            file_timeout=args.file_timeout,
        )
        stats = score_to_file(predictor.scorer, paths, args.out, options)
    except ScoreError as exc:
        raise UsageError(str(exc)) from None
    dup = f"; {stats['duplicates']} duplicate input(s) scored once" if stats["duplicates"] else ""
    sys.stderr.write(f"{args.out}: {stats['rows']} rows ({stats['scored_now']} scored now), {stats['errors']} with an error{dup}\n")
    undelivered = _stow(args) if args.stow else 0
    if args.review:
        from ..review.page import build_review

        page = build_review(args.out, args.review, cam_dir=args.cam_dir, workers=max(1, args.workers), progress=not args.quiet)
        sys.stderr.write(f"{args.review}: review page of {page['rows']} films\n")
    return 1 if stats["errors"] or undelivered else 0


def _stow(args: argparse.Namespace) -> int:
    """Send every SR and SC the table names to ``--stow``; how many were not delivered."""
    from pathlib import Path

    from ..pacs.sender import deliver_folder
    from ..pacs.transports import Stow
    from ..scoring.table import read_output

    files = [Path(f) for r in read_output(Path(args.out)) for f in str(r.get("dicom_outputs") or "").split(";") if f]
    res = deliver_folder(Path(args.dicom_out), files, Stow(args.stow))
    sys.stderr.write(
        f"{args.stow}: {res['sent']} object(s) stored (on this run or before), {res['failed']} refused (see {args.dicom_out}/.stow-failed.jsonl), {res['left']} left to send\n"
    )
    return res["failed"] + res["left"]
