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
