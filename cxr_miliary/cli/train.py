"""``cxr-miliary train ...``: the LightningCLI (same as ``python train.py ...``)."""

from __future__ import annotations

import argparse
import sys


def add_forwarder(sub: argparse._SubParsersAction, name: str, help_text: str, entry: str) -> None:
    """A command whose arguments all go to a LightningCLI entry point of :mod:`cxr_miliary.training.cli`."""
    p = sub.add_parser(name, help=help_text, add_help=False, description=f"Forwarded to LightningCLI; see 'cxr-miliary {name} --help'.")
    p.add_argument("args", nargs=argparse.REMAINDER)
    # argparse's REMAINDER takes nothing when the first word is an option (`train-lungs --help`):
    # such leading options come back as unknown, and go to LightningCLI first, in their order
    p.set_defaults(func=lambda args: _forward(name, entry, args), forward_unknown=True)


def _forward(name: str, entry: str, args: argparse.Namespace) -> int:
    """Hand the remaining arguments to LightningCLI, as its command line.

    LightningCLI reads ``sys.argv`` when it is given no arguments, and warns when it is given
    both (every run printed "LightningCLI's args parameter is intended to run from within
    Python ..."): so it gets the command's own argv, which also names the command in its help.
    """
    from ..training import cli

    forwarded = [*getattr(args, "unknown", []), *args.args]
    saved = sys.argv
    sys.argv = [f"cxr-miliary {name}", *forwarded]
    try:
        getattr(cli, entry)()
    finally:
        sys.argv = saved
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command; everything after it goes to LightningCLI."""
    add_forwarder(sub, "train", "train with LightningCLI: train fit --config configs/phantom.yaml", "main")
