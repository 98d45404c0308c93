"""``cxr-miliary reference --weights B --manifest M``: give a bundle its training-distribution reference."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import strict_json
from ._common import UsageError, positive_int


def _quantile(value: str) -> float:
    q = float(value)
    if not 0.5 <= q < 1.0:
        raise argparse.ArgumentTypeError("the quantile must be from 0.5 to just under 1")
    return q


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``reference`` command."""
    p = sub.add_parser(
        "reference",
        help="store a bundle's training-distribution reference (out-of-distribution check)",
        description="Compute the mean and shrunk covariance of the bundle's pooled features on the manifest's training "
        "images and the limit at a quantile of its validation images' distances, and store them in the bundle "
        "(reference.safetensors + card). export-bundle and training do this by themselves; this command is for "
        "bundles made before, or to re-base a bundle on other data.",
    )
    p.add_argument("--weights", required=True, help="bundle folder (changed in place: card.json, MODEL_CARD.md, reference.safetensors)")
    p.add_argument("--manifest", required=True, help="manifest with path, split (train/val) columns")
    p.add_argument("--images-root", default=None, help="folder the manifest's paths are relative to (default: the manifest's folder)")
    p.add_argument("--quantile", type=_quantile, default=0.99, help="validation quantile used as the limit (default: %(default)s)")
    p.add_argument("--max-images", type=positive_int, default=2000, help="at most this many training images (default: %(default)s)")
    p.add_argument("--data", default=None, help="what the images are, for the card (default: the bundle's training data description)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute and store the reference; print its card record."""
    import pandas as pd

    from ..inference.integrity import build_reference
    from ..models import BundleError
    from ..predictor import Predictor

    try:
        man = pd.read_csv(args.manifest, dtype={"path": str, "split": str})
    except (OSError, ValueError) as exc:
        raise UsageError(f"{args.manifest}: cannot be read ({exc})") from None
    if not {"path", "split"} <= set(man.columns):
        raise UsageError(f"{args.manifest}: needs 'path' and 'split' columns")
    root = Path(args.images_root) if args.images_root else Path(args.manifest).parent
    paths = {s: [str(p if Path(p).is_absolute() else root / p) for p in man.loc[man["split"] == s, "path"]] for s in ("train", "val")}
    try:
        predictor = Predictor.load(args.weights, precision="fp32")
        data = args.data or str(predictor.card.training_data.get("description", "")) or Path(args.manifest).name
        record = build_reference(predictor, paths["train"][: args.max_images], paths["val"], quantile=args.quantile, data=data)
    except (BundleError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(strict_json.dumps(record, indent=2) + "\n")
    return 0
