"""ONNX export of a bundle's network (dynamic batch), parity-checked against PyTorch."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .bundle import CARD, load_bundle, sha256_file

DEFAULT_OPSET = 17


def export_onnx(bundle: str | os.PathLike[str], out: str | os.PathLike[str], *, opset: int = DEFAULT_OPSET, check_inputs: torch.Tensor | None = None, tol: float = 1e-4) -> dict[str, Any]:
    """Export the bundle's network to ONNX and check the probabilities agree within ``tol``.

    Args:
        bundle: Bundle folder.
        out: ONNX file to write. When it lies inside the bundle folder, the card records
            it (file, opset, sha256, parity) so ``Predictor.load(..., backend="onnxruntime")``
            finds it; otherwise a ``<out>.json`` sidecar holds the same record.
        opset: ONNX opset.
        check_inputs: Inputs for the parity check (default: 4 random inputs of the card's size).
        tol: Largest allowed absolute difference in probability.

    Returns:
        The record written.

    Raises:
        ValueError: Parity failed (the file is removed).
    """
    import onnxruntime as ort

    model, card = load_bundle(bundle)
    size, chans = int(card["preprocess"]["image_size"]), int(card["preprocess"].get("channels", 1))
    x = check_inputs if check_inputs is not None else torch.randn(4, chans, size, size, generator=torch.Generator().manual_seed(0))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(model, (x[:1],), str(out), input_names=["image"], output_names=["logit"],
                          dynamic_axes={"image": {0: "batch"}, "logit": {0: "batch"}}, opset_version=opset, dynamo=False)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    t = float(card.get("temperature", 1.0))
    with torch.no_grad():
        ref = torch.sigmoid(model(x).reshape(-1) / t).numpy()
    got = 1 / (1 + np.exp(-sess.run(None, {"image": x.numpy()})[0].reshape(-1) / t))
    diff = float(np.abs(ref - got).max())
    if diff > tol:
        out.unlink(missing_ok=True)
        raise ValueError(f"ONNX parity failed: probabilities differ by {diff:.2e} > {tol:.0e}")
    record = {"file": out.name, "opset": opset, "sha256": sha256_file(out), "parity_max_abs_prob_diff": diff, "dynamic_batch": True}
    folder = Path(bundle)
    if out.resolve().parent == folder.resolve():
        card["onnx"] = record
        (folder / CARD).write_text(json.dumps(card, indent=2) + "\n")
    else:
        out.with_name(out.name + ".json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def quantize_int8(bundle: str | os.PathLike[str], calibration: np.ndarray, *, out_name: str = "model.int8.onnx") -> dict[str, Any]:
    """Static int8 quantisation (QDQ, per-channel weights) of the bundle's ONNX export.

    Args:
        bundle: Bundle folder whose card records an ONNX export (``cxr-miliary export``).
        calibration: Network inputs (N, C, H, W) float32 from representative images
            (phantoms), used to fix the activation ranges.
        out_name: File written inside the bundle; the card records it as ``onnx_int8``.

    Returns:
        The card record (file, sha256, max |Δp| against the fp32 ONNX on the calibration set).
    """
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    folder = Path(bundle)
    card = json.loads((folder / CARD).read_text())
    if "onnx" not in card:
        raise ValueError(f"{folder}: export to ONNX first (cxr-miliary export --weights {folder} --onnx {folder}/model.onnx)")
    src = folder / card["onnx"]["file"]
    pre = folder / "model.pre.onnx"
    quant_pre_process(str(src), str(pre))

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"image": calibration[i : i + 1].astype(np.float32)} for i in range(len(calibration))])

        def get_next(self):  # noqa: ANN202
            return next(self.items, None)

    out = folder / out_name
    quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    pre.unlink(missing_ok=True)
    t = float(card.get("temperature", 1.0))
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"image": calibration.astype(np.float32)})[0].reshape(-1)  # noqa: E731
    diff = float(np.abs(1 / (1 + np.exp(-run(src) / t)) - 1 / (1 + np.exp(-run(out) / t))).max())
    card["onnx_int8"] = {"file": out_name, "sha256": sha256_file(out), "calibration_images": int(len(calibration)), "max_abs_prob_diff_vs_fp32": diff}
    (folder / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return card["onnx_int8"]
