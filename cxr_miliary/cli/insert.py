"""``cxr-miliary insert INPUT... --out DIR``: superimpose the pattern on real films, inside their lung fields."""

from __future__ import annotations

import argparse
import os
import sys

from ._common import UsageError, non_negative_int, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``insert`` command."""
    from ..phantom.insertion import PATTERNS, TIER_NAMES

    p = sub.add_parser(
        "insert",
        help="turn real negative films into labelled positives (the pattern drawn inside their lung fields)",
        description="Read films (files, folders, .txt/.csv lists), find their lung fields with the lung model and add the "
        "miliary or reticulonodular pattern inside them: nodules of the clinical size in millimetres, contrast that follows "
        "the film, no visible edge. Writes images/, masks/*_lesion.png, masks/*_lung.png, manifest.csv (for train, "
        "evaluate, prepare and score) and rejected.csv (films that could not be used, with the reason). Exit 0, or 1 "
        "when some films were refused.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--pattern", default="miliary", choices=PATTERNS)
    p.add_argument("--tier", default="moderate", choices=TIER_NAMES)
    p.add_argument("--n-per-image", type=_per_image, default=1, help="insertions per film, each its own draw (1 to 100)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="the same seed, inputs and index give the same films")
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", "png", "dcm"],
        help="auto (default): DICOM inputs give DICOM (their own pixel format, de-identified), others PNG; png: every film as PNG "
        "(a DICOM's display in 8 bits); nothing outside the lungs changes in any of them",
    )
    p.add_argument("--force", action="store_true", help="use films the checks refuse")
    p.add_argument("--workers", type=non_negative_int, default=1)
    p.add_argument("--sheet", default=None, metavar="PNG", help="also write a contact sheet: the first films beside their insertions, 1:1 crops")
    p.set_defaults(func=run)


def _per_image(value: str) -> int:
    from ..insertion.job import MAX_PER_IMAGE

    n = positive_int(value)
    if n > MAX_PER_IMAGE:
        raise argparse.ArgumentTypeError(f"{value}: at most {MAX_PER_IMAGE} insertions per film")
    return n


def _check_out(out: str, given: list[str], paths: list[str]) -> None:
    """--out may be neither an input, nor inside a folder being read, nor hold an input (a second run would insert into the first's positives)."""
    from ..outputs.paths import check_dir_target, check_not_inputs

    check_dir_target(out, "--out")
    check_not_inputs({}, {"--out": out}, list(given), paths)
    real = os.path.realpath(out).rstrip(os.sep) + os.sep
    for p in [*given, *paths]:
        if os.path.realpath(p).startswith(real):
            raise UsageError(f"{p}: an input lies inside --out {out}; films and masks written there would be read as films (choose another --out)")


def run(args: argparse.Namespace) -> int:
    """Insert and report."""
    from ..explain.lungs import default_segmenter
    from ..insertion.job import insert_files
    from ..models import BundleError
    from ..outputs.paths import OutputPathError
    from ..scoring.inputs import InputListError, expand_inputs

    try:
        paths = expand_inputs(args.inputs)
        _check_out(args.out, args.inputs, paths)
        default_segmenter()
    except (InputListError, BundleError, OutputPathError) as exc:
        raise UsageError(str(exc)) from None
    if not paths:
        raise UsageError("no input files found")
    res = insert_files(
        paths,
        args.out,
        pattern=args.pattern,
        tier=args.tier,
        n_per_image=args.n_per_image,
        seed=args.seed,
        fmt=args.format,
        force=args.force,
        workers=max(1, args.workers),
        progress=not args.quiet,
    )
    sys.stderr.write(f"{res['manifest']}: {res['written']} films with the pattern; {res['rejected']}: {res['refused']} refused\n")
    if args.sheet and res["written"]:
        from ..insertion.sheet import contact_sheet

        sys.stderr.write(f"contact sheet: {contact_sheet(args.out, args.sheet)}\n")
    return 1 if res["refused"] else 0
