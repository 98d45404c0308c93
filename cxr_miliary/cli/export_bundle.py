"""``cxr-miliary export-bundle CKPT --out DIR``: Lightning checkpoint -> model bundle."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export-bundle`` command."""
    p = sub.add_parser(
        "export-bundle",
        help="Lightning checkpoint -> model bundle (safetensors + card.json + MODEL_CARD.md)",
        description="Read CKPT with torch.load(weights_only=True) and write a bundle. With --manifest, calibrate "
        "(temperature + threshold rule) on its val split; otherwise the bundle is marked uncalibrated.",
    )
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True)
    p.add_argument("--manifest", default=None, help="manifest whose val split calibrates the bundle")
    p.add_argument("--threshold-rule", default="sensitivity", choices=["sensitivity", "specificity", "youden"])
    p.add_argument("--target", type=float, default=0.90)
    p.add_argument("--name", default="cxr-miliary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export."""
    from ..training import bundle_from_checkpoint

    try:
        out = bundle_from_checkpoint(
            args.checkpoint, args.out, manifest=args.manifest, threshold_rule=args.threshold_rule, target=args.target, name=args.name
        )
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(f"bundle written to {out}\n")
    return 0
