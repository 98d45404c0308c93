"""Entry point of the ``cxr-miliary`` console script.

Every command module exposes ``register(subparsers)`` which adds its parser and sets
``func``. Errors a user can fix print one ``error: ...`` line on stderr and exit 2; no
traceback reaches the terminal unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

# Set before torch is imported. torch's idle OpenMP threads otherwise spin for a while
# after each operator, taking the CPU from the decode workers that run beside the model:
# on 2 cores `score` went from 37 to 50 img/s with this; one-image latency moves ~4 ms.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .. import __version__  # noqa: E402
from ..io import ImageError  # noqa: E402

#: Command modules, in the order ``--help`` lists them.
COMMANDS = ("demo", "info", "predict", "score", "evaluate", "phantom", "manifest", "prepare", "train", "export-bundle", "export", "bench")

EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """Bad arguments or input detected by a command (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message}\n(see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered command."""
    parser = _Parser(
        prog="cxr-miliary",
        description="Find the miliary / reticulonodular pattern on chest radiographs. "
        "Research software, not a medical device.",
    )
    parser.add_argument("--version", action="version", version=f"cxr-miliary {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors in the logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f".{name.replace('-', '_')}", __package__).register(sub)
    return parser


def _configure_logging(debug: bool, quiet: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not debug:
        # Third-party chatter (pydicom, PIL) stays out of the user's terminal.
        for name in ("pydicom", "PIL", "matplotlib", "lightning", "timm"):
            logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    Args:
        argv: Arguments without the program name (defaults to ``sys.argv[1:]``).

    Returns:
        0 success, 1 some rows carry errors (batch commands), 2 bad input or usage,
        3 an unexpected internal failure.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _configure_logging(args.debug, args.quiet)
    try:
        return int(args.func(args) or 0)
    except ImageError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except UsageError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # last line of defence: no traceback for users
        if args.debug:
            raise
        sys.stderr.write(f"error: unexpected failure ({type(exc).__name__}: {exc}); rerun with --debug for details\n")
        return EXIT_INTERNAL


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())
