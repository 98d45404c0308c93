"""``cxr-miliary train ...``: the LightningCLI (same as ``python train.py ...``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command; everything after it goes to LightningCLI."""
    p = sub.add_parser(
        "train",
        help="train with LightningCLI: train fit --config configs/phantom.yaml",
        add_help=False,
        description="Forwarded to LightningCLI; see 'cxr-miliary train --help'.",
    )
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Hand the remaining arguments to LightningCLI."""
    from ..training.cli import main

    main(args.args)
    return 0
