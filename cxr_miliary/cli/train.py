"""``cxr-miliary train ...``: the LightningCLI (same as ``python train.py ...``)."""

from __future__ import annotations

import argparse


def add_forwarder(sub: argparse._SubParsersAction, name: str, help_text: str, entry: str) -> None:
    """A command whose arguments all go to a LightningCLI entry point of :mod:`cxr_miliary.training.cli`."""
    p = sub.add_parser(name, help=help_text, add_help=False, description=f"Forwarded to LightningCLI; see 'cxr-miliary {name} --help'.")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda args: _forward(entry, args))


def _forward(entry: str, args: argparse.Namespace) -> int:
    """Hand the remaining arguments to LightningCLI."""
    from ..training import cli

    getattr(cli, entry)(args.args)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command; everything after it goes to LightningCLI."""
    add_forwarder(sub, "train", "train with LightningCLI: train fit --config configs/phantom.yaml", "main")
