"""What the commands share.

The usage error, exit codes, option groups and argument types, loading the model,
checking output paths, and atomic writes of what the CLI itself writes to files.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from ..explain.cam import METHODS

EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
#: The CAM methods the commands offer: the explanation package's registry.
CAM_METHODS = tuple(METHODS)


class UsageError(Exception):
    """Bad arguments, input or output paths detected by a command (exit 2)."""


def add_global_options(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--debug`` and ``--quiet``: accepted before the command and after it.

    On subcommands the default is "not given", so a flag before the command is not
    overwritten by the subcommand's default.
    """
    default: Any = False if top else argparse.SUPPRESS
    p.add_argument("--debug", action="store_true", default=default, help="show full tracebacks and debug logs")
    p.add_argument("--quiet", action="store_true", default=default, help="only warnings and errors in the logs; no progress bars")


def _whole_number(value: str, low: int, bound: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < low:
        raise argparse.ArgumentTypeError(f"{value} must be {bound}")
    return n


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1."""
    return _whole_number(value, 1, "at least 1")


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0."""
    return _whole_number(value, 0, "0 or more")


def unit_interval(value: str) -> float:
    """argparse type: a finite number in [0, 1] (a threshold)."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise argparse.ArgumentTypeError(f"{value} must be a number from 0 to 1")
    return x


def _finite(value: str, ok: Any, bound: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not (math.isfinite(x) and ok(x)):
        raise argparse.ArgumentTypeError(f"{value} must be {bound}")
    return x


def positive_seconds(value: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    return _finite(value, lambda x: x > 0, "a positive number of seconds")


def positive_float(value: str) -> float:
    """argparse type: a finite number > 0."""
    return _finite(value, lambda x: x > 0, "a positive number")


def non_negative_float(value: str) -> float:
    """argparse type: a finite number >= 0."""
    return _finite(value, lambda x: x >= 0, "0 or more")


def overlay_size(value: str) -> int | None:
    """argparse type: an overlay's longest side in pixels (>= 64), or ``full`` (None: the image's own size)."""
    if value == "full":
        return None
    n = _whole_number(value, 64, "at least 64 pixels, or 'full'")
    return n


def add_overlay_options(p: argparse.ArgumentParser) -> None:
    """``--overlay-size``: the overlays' longest side (``predict --cam``, ``score --cam-dir``, the DICOM SC)."""
    from ..inference.decoding import PREVIEW_SIDE

    p.add_argument(
        "--overlay-size",
        type=overlay_size,
        default=PREVIEW_SIDE,
        metavar="PX|full",
        help="longest side of the overlay (default: %(default)s; 'full': the image's own size)",
    )


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The options every command that runs the model shares (bundle, device, precision, threads)."""
    p.add_argument("--weights", default=None, help="model bundle folder (default: the bundle shipped in weights/)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="forward pass: auto (default) = the fastest runtime measured to give fp32's answers on this machine "
        "(checked once per model, cached), fp32, or bf16; Grad-CAM always runs in fp32",
    )
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for the model")


def load_predictor(args: argparse.Namespace) -> Any:
    """The Predictor for ``--weights`` (or the default bundle); bundle problems are usage errors."""
    from ..explain.lungs import default_segmenter
    from ..models import BundleError
    from ..predictor import Predictor

    try:
        if args.weights:
            predictor = Predictor.load(args.weights, device=args.device, threads=args.threads, precision=args.precision)
        else:
            predictor = Predictor.from_pretrained(device=args.device, threads=args.threads, precision=args.precision)
        default_segmenter()  # the lung bundle too: refused now, before any input is read (workers inherit it)
    except (BundleError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    return predictor


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a file under a temporary name and rename it into place (never a partial file): :func:`cxr_miliary.atomic.write_bytes`."""
    from ..atomic import write_bytes

    return write_bytes(path, data)


def check_outputs(files: dict[str, Any], folders: dict[str, Any], inputs: list[Any] | None = None) -> None:
    """Check output paths before any work starts (``{option: path}``; None skipped); none may be one of ``inputs``."""
    from ..outputs.paths import OutputPathError, check_dir_target, check_file_target, check_not_inputs

    try:
        for option, path in files.items():
            if path is not None:
                check_file_target(path, option)
        for option, path in folders.items():
            if path is not None:
                check_dir_target(path, option)
        if inputs is not None:
            check_not_inputs(files, folders, inputs, [str(i) for i in inputs])
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
