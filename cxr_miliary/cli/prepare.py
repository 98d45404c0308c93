"""``cxr-miliary prepare``: decode once into a resized training cache."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``prepare`` command."""
    p = sub.add_parser(
        "prepare",
        help="decode once into a resized training cache",
        description="Decode every manifest image once (load_image) into 16-bit PNGs whose longest side is --size. Resumable.",
    )
    p.add_argument("--manifest", required=True)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--out", required=True, help="cache folder")
    p.add_argument("--images-root", default=None, help="root of the manifest's paths (default: the manifest's folder)")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build or resume the cache; exit 1 when some images could not be decoded."""
    from ..data import prepare_cache

    try:
        index = prepare_cache(args.manifest, args.out, size=args.size, images_root=args.images_root, workers=args.workers, progress=not args.quiet)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise UsageError(f"{args.manifest}: {exc}") from None
    errors = index[index["error"] != ""]
    sys.stdout.write(f"{args.out}: {len(index) - len(errors)} cached, {len(errors)} could not be decoded\n")
    for _, row in errors.head(10).iterrows():
        sys.stdout.write(f"  {row['path']}: {row['error']}\n")
    return 1 if len(errors) else 0
