"""``cxr-miliary audit --manifest M [--out DIR]``: can the label be told from what is not the pattern?"""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``audit`` command."""
    p = sub.add_parser(
        "audit",
        help="shortcut audit: is the label predictable from outside the lungs, from the header metadata, or (insert output) from how positives were made",
        description="Small cross-validated classifiers (patient-level folds; AUROC with a bootstrap CI) on the films with their lung "
        "fields blanked out, on the manifest's metadata (manufacturer, view, sex, age, year, source), and, for insert output, on "
        "inserted positives against native negatives outside the lungs. Exit 0 when nothing is flagged, 1 when a shortcut is.",
    )
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", default=None, help="write audit.json and audit.png here")
    p.add_argument("--images-root", default=None, help="root of the manifest's relative paths (default: its folder)")
    p.add_argument(
        "--max-images", type=positive_int, default=4000, help="a label-stratified sample of at most this many films (default: %(default)s)"
    )
    p.add_argument("--folds", type=positive_int, default=5)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Audit and say what was found."""
    try:
        from ..evaluation.audit import audit
    except ImportError as exc:  # scikit-learn comes with the [torch] extra
        raise UsageError(f"audit needs scikit-learn ({exc}): pip install 'cxr-miliary[torch]'") from None
    try:
        res = audit(args.manifest, args.out, images_root=args.images_root, max_images=args.max_images, folds=args.folds, say=lambda s: None)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"{args.manifest}: {exc}") from None
    for v in res["questions"].values():
        sys.stdout.write(v["sentence"] + "\n")
    return 1 if res["flagged"] else 0
