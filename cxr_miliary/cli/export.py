"""``cxr-miliary export --weights B --onnx OUT.onnx``: ONNX export, parity-checked."""

from __future__ import annotations

import argparse
import json
import sys

from .main import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    p = sub.add_parser("export", help="export a bundle's network to ONNX (dynamic batch, parity-checked)",
                       description="Write OUT.onnx and check that ONNX Runtime's probabilities match PyTorch's within 1e-4. "
                       "Inside the bundle folder, the card records the file and opset (Predictor backend='onnxruntime').")
    p.add_argument("--weights", required=True, help="bundle folder")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--int8", action="store_true", help="also write model.int8.onnx (static quantisation calibrated on phantoms; OUT must be inside the bundle)")
    p.add_argument("--calibration-images", type=int, default=32)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export and print the record."""
    from ..models import BundleError
    from ..models.onnx_export import export_onnx

    try:
        record = export_onnx(args.weights, args.onnx, opset=args.opset)
        if args.int8:
            record["int8"] = _int8(args)
    except (BundleError, ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    except ImportError:
        raise UsageError("ONNX export needs the 'onnx' and 'onnxruntime' packages: pip install 'cxr-miliary[onnx]'") from None
    sys.stdout.write(json.dumps(record, indent=2) + "\n")
    return 0


def _int8(args: argparse.Namespace) -> dict:
    """Calibrate static int8 quantisation on freshly generated phantoms."""
    import tempfile

    import numpy as np
    import torch

    from ..inference import Predictor
    from ..io import load_image
    from ..models.onnx_export import quantize_int8
    from ..phantom import generate_phantoms

    p = Predictor.load(args.weights, precision="fp32")  # only its preprocessing is used
    with tempfile.TemporaryDirectory() as tmp:
        man = generate_phantoms(args.calibration_images, tmp, seed=31337, size=max(512, p.preprocess.image_size))
        import pandas as pd

        paths = [f"{tmp}/{x}" for x in pd.read_csv(man)["path"]]
        calib = torch.stack([p.tensor(load_image(x)) for x in paths]).numpy().astype(np.float32)
    return quantize_int8(args.weights, calib)
