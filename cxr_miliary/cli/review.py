"""``cxr-miliary review RESULTS --out review.html [--cam-dir D]``: a page to go through what was scored."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``review`` command."""
    p = sub.add_parser(
        "review",
        help="an HTML worklist of a results table: thumbnails, filters, one film at full size with its map",
        description="Write one HTML page that opens from disk with no server and no network: a worklist sorted by probability "
        "(thumbnail of the overlay, probability and call, reliable or not with its reasons, pattern, warnings, errors), filters "
        "(call, reliable, each reason code, error rows), search by file name, sort by any column, and one film at full size with "
        "its overlay, the six-zone summary and every warning. Keys: down/j and up/k move between films, m turns the map on and off. "
        "Pictures go to <page>_files/ beside it (the film decoded again from the row's path; the overlay from score --cam-dir).",
    )
    p.add_argument("results", help="score's table (.csv, .parquet, .jsonl) or a node's results.jsonl")
    p.add_argument("--out", required=True, help="the page (.html)")
    p.add_argument("--cam-dir", default=None, help="where the overlays are, when the folder moved since score wrote the table")
    p.add_argument("--no-images", action="store_true", help="the table alone: no thumbnails or film views (no film is decoded)")
    p.add_argument("--workers", type=positive_int, default=1, help="processes that draw the pictures (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the page and say where it is."""
    from ..outputs.paths import OutputPathError, check_file_target
    from ..review.page import build_review
    from ..review.rows import ResultsError

    if not str(args.out).lower().endswith((".html", ".htm")):
        raise UsageError(f"{args.out}: --out must be an .html file")
    try:
        check_file_target(args.out, "the review page")
        res = build_review(args.results, args.out, cam_dir=args.cam_dir, images=not args.no_images, workers=args.workers, progress=not args.quiet)
    except (ResultsError, OutputPathError) as exc:
        raise UsageError(str(exc)) from None
    sys.stderr.write(f"{args.out}: {res['rows']} films ({res['errors']} with an error, {res['pictures']} with pictures)\n")
    return 0
