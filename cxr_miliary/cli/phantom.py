"""``cxr-miliary phantom``: synthetic radiographs with ground truth."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _size(value: str) -> int | str:
    """argparse type: a side of at least 64 pixels, ``detector`` or ``mix``."""
    from ..phantom.generator import SIZE_SPECS

    if value in SIZE_SPECS:
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither a number of pixels nor one of {', '.join(SIZE_SPECS)}") from None
    if n < 64:
        raise argparse.ArgumentTypeError(f"{value} must be at least 64 pixels")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``phantom`` command."""
    from ..phantom.patterns import ALL_PATTERNS, CONDITIONS, FRAMINGS, MIXES

    p = sub.add_parser(
        "phantom",
        help="generate synthetic radiographs with ground truth",
        description="Generate synthetic chest radiographs (miliary, reticulonodular and confounders) "
        "with lung and lesion masks and manifest.csv. Same seed, same bytes.",
    )
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--size",
        type=_size,
        default=1024,
        help="image side in pixels; 'detector': each film at a CR/DX detector's size and pixel spacing "
        "(35-43 cm at 0.10-0.20 mm: 1,750-4,300 px); 'mix': the default model's training mix (default: %(default)s)",
    )
    p.add_argument("--format", type=_csv, default=("png",), help="png, dcm or png,dcm (default: png)")
    p.add_argument("--positive-fraction", type=float, default=0.5)
    p.add_argument("--patterns", type=_csv, default=ALL_PATTERNS, help=f"comma list from: {', '.join(ALL_PATTERNS)}")
    p.add_argument("--pixel-spacing", type=float, default=None, help="mm per pixel (default: 0.35 at 1024 px)")
    p.add_argument(
        "--condition",
        default=None,
        help=f"what real films have, on every image: {', '.join(CONDITIONS)}, or {', '.join(MIXES)} (a draw from the lung model's "
        "training mix); the lung masks stay the anatomical lung",
    )
    p.add_argument(
        "--framing",
        default="phantom",
        choices=FRAMINGS,
        help="how the chest sits in the frame: as phantoms always were (phantom, the default: the lung box 57-76 %% of the film) "
        "or as real films are collimated (tight: 75-87 %%)",
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes (same output as 1)")
    p.add_argument(
        "--contact-sheet",
        nargs="?",
        const="contact_sheet.png",
        default=None,
        metavar="PNG",
        help="also write a contact sheet of every pattern and difficulty (inside --out)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the set."""
    from pathlib import Path

    from ..phantom import generate_phantoms
    from ..phantom.contact_sheet import contact_sheet

    if args.n < 0:
        raise UsageError("--n must be >= 0")
    try:
        manifest = generate_phantoms(
            args.n,
            args.out,
            seed=args.seed,
            size=args.size,
            formats=args.format,
            positive_fraction=args.positive_fraction,
            patterns=args.patterns,
            pixel_spacing_mm=args.pixel_spacing,
            workers=args.workers,
            progress=not args.quiet,
            condition=args.condition,
            framing=args.framing,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(f"wrote {args.n} images and {manifest}\n")
    if args.contact_sheet:
        sheet = contact_sheet(Path(args.out) / args.contact_sheet, seed=args.seed, size=args.size)
        sys.stdout.write(f"contact sheet: {sheet}\n")
    return 0
