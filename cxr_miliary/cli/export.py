"""``cxr-miliary export --weights B --onnx OUT.onnx``: ONNX export, parity-checked."""

from __future__ import annotations

import argparse
import sys

from .. import strict_json
from ._common import UsageError, check_outputs, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    p = sub.add_parser(
        "export",
        help="export a bundle's network to ONNX (dynamic batch, parity-checked)",
        description="Write OUT.onnx and check that ONNX Runtime's probabilities match PyTorch's within 1e-4. "
        "Inside the bundle folder, the card records the file and opset (Predictor backend='onnxruntime').",
    )
    p.add_argument("--weights", required=True, help="bundle folder")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument(
        "--int8", action="store_true", help="also write model.int8.onnx (static quantisation calibrated on phantoms; OUT must be inside the bundle)"
    )
    p.add_argument("--calibration-images", type=positive_int, default=32)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and print the record."""
    from ..models import BundleError, load_card
    from ..models.onnx import calibration_inputs, export_onnx, quantize_int8

    check_outputs({"--onnx": args.onnx}, {})
    try:
        record = export_onnx(args.weights, args.onnx, opset=args.opset)
        if args.int8:
            record["int8"] = quantize_int8(args.weights, calibration_inputs(load_card(args.weights), args.calibration_images))
    except (BundleError, ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    except ImportError:
        raise UsageError("ONNX export needs the 'onnx' and 'onnxruntime' packages: pip install 'cxr-miliary[onnx]'") from None
    sys.stdout.write(strict_json.dumps(record, indent=2) + "\n")
    return 0
