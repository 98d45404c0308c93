"""``cxr-miliary info IMAGE``: what was decoded, as one JSON object."""

from __future__ import annotations

import argparse
import sys

from .. import strict_json
from ..io import DEFAULT_MAX_PIXELS, load_image


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` command."""
    p = sub.add_parser(
        "info",
        help="show what was decoded from an image (JSON); exit 2 if rejected/unreadable",
        description="Decode IMAGE as cxr-miliary would and print what was found as JSON. No patient identifiers are printed.",
    )
    p.add_argument("image", help="DICOM, PNG, JPEG or TIFF file")
    p.add_argument("--force", action="store_true", help="decode even if the acceptance checks reject the image")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Decode and print."""
    rad = load_image(args.image, force=args.force, max_pixels=args.max_pixels)
    out = {"path": rad.path, **rad.meta.to_dict(), "pixel_stats": rad.pixel_stats()}
    sys.stdout.write(strict_json.dumps(out, indent=2) + "\n")
    return 0
