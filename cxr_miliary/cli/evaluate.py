"""``cxr-miliary evaluate --weights B --manifest M --out DIR``: metrics.json + report.html + plots."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError, add_model_options


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    p = sub.add_parser(
        "evaluate",
        help="metrics with CIs, subgroups, plots and an HTML report for a manifest",
        description="Score a manifest (path,label[,split,...]) with Grad-CAM and write metrics.json, "
        "subgroups.csv, plots and a self-contained report.html into --out.",
    )
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--split", default=None, help="evaluate one split only (e.g. test)")
    p.add_argument("--images-root", default=None)
    p.add_argument("--target-sensitivity", type=float, default=0.90)
    p.add_argument("--bootstrap", type=int, default=500, help="bootstrap resamples for the CIs")
    p.add_argument(
        "--update-card", default=None, metavar="DATA", help="record the figures in the bundle's card and MODEL_CARD.md, describing the data as DATA"
    )
    p.add_argument(
        "--positives",
        default="all",
        choices=["all", "physician"],
        help="physician: only the positives a physician labelled (the manifest's label_method, PadChest's MethodLabel); negatives all stay",
    )
    p.add_argument("--audit", action="store_true", help="also run the shortcut audit (cxr-miliary audit) on the manifest: a section of the report")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the headline figures."""
    from ..evaluation import evaluate
    from ._common import load_predictor

    predictor = load_predictor(args)
    try:
        m = evaluate(
            predictor,
            args.manifest,
            args.out,
            split=args.split,
            images_root=args.images_root,
            batch_size=args.batch_size,
            num_workers=args.workers,
            target_sensitivity=args.target_sensitivity,
            n_boot=args.bootstrap,
            progress=not args.quiet,
            positives=args.positives,
            shortcut_audit=args.audit,
        )
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise UsageError(f"{args.manifest}: {exc}") from None
    if args.update_card:
        from ..evaluation.run import update_card
        from ..models.locate import find_default_bundle

        update_card(args.weights or find_default_bundle(), m, args.update_card)
    a = m["metrics"]["auroc"]
    sys.stdout.write(
        f"n={m['n']} positives={m['positives']} AUROC {a['value']:.4f} (95% CI {a['ci_low']:.4f}-{a['ci_high']:.4f}); report: {args.out}/report.html\n"
    )
    return 0
