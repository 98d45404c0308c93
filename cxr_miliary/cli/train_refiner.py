"""``cxr-miliary train-refiner data|fit``: the lung bundle's shape refiner (phantom samples, then Lightning training)."""

from __future__ import annotations

import argparse
import sys

from .. import strict_json
from ._common import UsageError, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train-refiner`` command and its two steps."""
    p = sub.add_parser(
        "train-refiner",
        help="train the lung bundle's shape refiner: train-refiner data ..., then train-refiner fit ...",
        description="The shape refiner corrects the lung network's probabilities where lungs are white, small or "
        "shaped as real lungs are (docs/training.md). 'data' renders phantoms and keeps the lung network's "
        "read-out of each with its true lungs; 'fit' trains the refiner on such files and writes it into the "
        "lung bundle (refiner.safetensors, refiner.onnx, the card's 'refiner' record).",
    )
    steps = p.add_subparsers(dest="step", required=True, metavar="{data,fit}")
    d = steps.add_parser("data", help="render phantoms and write the refiner's training samples (.npz)")
    d.add_argument("--seed", type=int, required=True, help="phantom set seed (one never used for the figures you report)")
    d.add_argument("--n", type=positive_int, required=True, help="number of phantoms")
    d.add_argument("--out", required=True, help="the .npz file to write")
    d.add_argument("--lungs", default=None, help="lung bundle whose network is read (default: the installed one)")
    d.set_defaults(func=run_data)
    f = steps.add_parser("fit", help="train the refiner on data files and write it into the lung bundle")
    f.add_argument("--data", nargs="+", required=True, help=".npz files from 'train-refiner data' with the same lung bundle")
    f.add_argument("--lungs", required=True, help="lung bundle folder (changed in place: refiner files and card)")
    f.add_argument("--epochs", type=positive_int, default=16, help="epochs (default: %(default)s)")
    f.add_argument("--batch-size", type=positive_int, default=16, help="batch size (default: %(default)s)")
    f.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default: %(default)s)")
    f.add_argument("--seed", type=int, default=0, help="seed of the validation draw and of training (default: %(default)s)")
    f.add_argument("--description", default="", help="what the data are, for the card")
    f.add_argument("--accelerator", default="auto", help="Lightning accelerator (default: %(default)s)")
    f.add_argument("--augment", action="store_true", help="turn, shift and zoom the training samples a little, and vary the film's contrast")
    f.add_argument("--init", action="store_true", help="fine-tune the bundle's present refiner instead of training one afresh")
    f.set_defaults(func=run_fit)


def _segmenter(folder: str | None):  # noqa: ANN202 - LungSegmenter, imported lazily
    from ..models import BundleError
    from ..models.locate import find_default_bundle
    from ..models.lung_segmenter import LungSegmenter

    try:
        return LungSegmenter(folder or find_default_bundle("lungs"))
    except (BundleError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None


def run_data(args: argparse.Namespace) -> int:
    """Render the phantoms and write their samples."""
    from ..atomic import WriteError
    from ..training.lung_refiner import make_refiner_data

    seg = _segmenter(args.lungs)
    if seg.has_refiner:
        sys.stderr.write("note: the refiner is trained on the network's read-out alone; the bundle's present refiner is not used\n")

    def progress(i: int, n: int) -> None:
        if i % 100 == 0 or i == n:
            sys.stderr.write(f"{i}/{n} phantoms\n")

    try:
        out = make_refiner_data(seg, args.seed, args.n, args.out, progress)
    except WriteError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(f"{out}\n")
    return 0


def run_fit(args: argparse.Namespace) -> int:
    """Train the refiner and print the card's new record."""
    from ..models import BundleError
    from ..training.lung_refiner import fit_refiner

    if not args.lr > 0:
        raise UsageError("--lr must be positive")
    try:
        rec = fit_refiner(
            args.data,
            args.lungs,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            description=args.description,
            accelerator=args.accelerator,
            augment=args.augment,
            init=args.init,
        )
    except (BundleError, OSError, ValueError, KeyError) as exc:
        raise UsageError(f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyError) else str(exc)) from None
    sys.stdout.write(strict_json.dumps(rec, indent=2) + "\n")
    return 0
