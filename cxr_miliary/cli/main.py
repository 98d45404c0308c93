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

from ..atomic import WriteError
from ..io import ImageError
from ..models.bundle import BundleError
from ..version import __version__
from ._common import EXIT_INTERNAL, EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE, UsageError, add_global_options

__all__ = ["COMMANDS", "EXIT_INTERNAL", "EXIT_OK", "EXIT_ROW_ERRORS", "EXIT_USAGE", "UsageError", "build_parser", "main", "run"]

#: Command modules, in the order ``--help`` lists them.
COMMANDS = (
    "demo",
    "info",
    "predict",
    "score",
    "review",
    "evaluate",
    "phantom",
    "manifest",
    "prepare",
    "train",
    "train-lungs",
    "train-refiner",
    "cv",
    "export-bundle",
    "export",
    "reference",
    "audit",
    "insert",
    "serve",
    "bench",
)


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message}\n(see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered command."""
    parser = _Parser(
        prog="cxr-miliary",
        description="Find the miliary / reticulonodular pattern on chest radiographs. Research software, not a medical device.",
    )
    parser.add_argument("--version", action="version", version=f"cxr-miliary {__version__}")
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f".{name.replace('-', '_')}", __package__).register(sub)
    for command in sub.choices.values():  # users type `score ... --quiet`: accept it there too
        _add_globals_everywhere(command)
    return parser


def _add_globals_everywhere(p: argparse.ArgumentParser) -> None:
    if p.add_help:  # `train` hands everything after it to LightningCLI
        add_global_options(p)
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_globals_everywhere(child)


def _configure_logging(debug: bool, quiet: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not debug:
        # Third-party chatter (pydicom, PIL) stays out of the user's terminal.
        for name in ("pydicom", "PIL", "matplotlib", "lightning", "timm"):
            logging.getLogger(name).setLevel(logging.ERROR)
        logging.getLogger("highdicom").setLevel(logging.WARNING)  # an INFO line per source image, quoting its UIDs
        # pynetdicom's socket errors (two ERROR lines per refused connection, and per peer that
        # hangs up) repeat what the node says once with its reason and next try
        logging.getLogger("pynetdicom.transport").setLevel(logging.CRITICAL)
    from ..io.phi import install_log_redaction

    install_log_redaction()  # with --debug too: pydicom, pynetdicom and highdicom quote values and UIDs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    Args:
        argv: Arguments without the program name (defaults to ``sys.argv[1:]``).

    Returns:
        0 success, 1 some rows carry errors (batch commands), 2 bad input or usage,
        3 an unexpected internal failure.
    """
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # only a command that hands the rest to LightningCLI (cv) takes arguments it does not know
        if not getattr(args, "forward_unknown", False):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.unknown = unknown
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _configure_logging(args.debug, args.quiet)
    try:
        return int(args.func(args) or 0)
    except (ImageError, UsageError, BundleError) as exc:
        if args.debug:
            raise
        _error(str(exc))
        return EXIT_USAGE
    except OSError as exc:  # a full disk, a quota, a read-only file system: the user's to fix
        if args.debug or not _is_space(exc):
            if args.debug:
                raise
            return _unexpected(exc)
        where = f"{exc.filename}: " if exc.filename and str(exc.filename) not in str(exc) else ""
        _error(f"{where}{exc.strerror or exc}" if not isinstance(exc, WriteError) else str(exc))
        return EXIT_USAGE
    except ImportError as exc:  # an optional part of the install is missing
        if args.debug:
            raise
        hint = "" if "pip install" in str(exc) else " (pip install 'cxr-miliary[torch]' for the PyTorch parts, '[train]' for training)"
        _error(f"this needs a package that is not installed: {exc}{hint}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:  # last line of defence: no traceback for users
        if args.debug:
            raise
        return _unexpected(exc)


def _is_space(exc: OSError) -> bool:
    """A write refused for want of space or permission to write, not a bug."""
    import errno

    return isinstance(exc, WriteError) or exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def _unexpected(exc: BaseException) -> int:
    """Report a failure nobody foresaw: its type and its message, quoted values redacted unless they are program names."""
    from ..io.phi import redact_message

    _error(f"unexpected failure ({type(exc).__name__}: {redact_message(str(exc))[:500]}); rerun with --debug for details")
    return EXIT_INTERNAL


def _error(message: str) -> None:
    """One ``error:`` line on stderr, on a line of its own (a progress bar may have left the cursor mid-line)."""
    sys.stderr.flush()
    clear = "\r\033[K" if sys.stderr.isatty() else ""
    sys.stderr.write(f"{clear}error: {message}\n")


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())
