"""``cxr-miliary export``: ONNX export with parity, the onnxruntime backend, int8."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxr_miliary import Predictor
from cxr_miliary.cli.main import main
from cxr_miliary.models import BundleError
from cxr_miliary.phantom import render_phantom


def test_export_parity_and_backend(tiny_bundle, phantom_dir, tmp_path):
    import shutil

    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    assert main(["export", "--weights", str(bundle), "--onnx", str(bundle / "model.onnx")]) == 0
    card = json.loads((bundle / "card.json").read_text())
    assert card["onnx"]["opset"] == 17 and card["onnx"]["parity_max_abs_prob_diff"] <= 1e-4
    torch_p, ort_p = Predictor.load(bundle), Predictor.load(bundle, backend="onnxruntime")
    paths = sorted((phantom_dir / "images").glob("*.png"))
    a = torch_p.score(paths, num_workers=0)["probability"].to_numpy(float)
    b = ort_p.score(paths, num_workers=0, batch_size=3)["probability"].to_numpy(float)  # dynamic batch
    assert np.abs(a - b).max() <= 1e-4
    assert ort_p.predict(paths[0]).cam is not None  # Grad-CAM stays on PyTorch
    with pytest.raises(BundleError):
        Predictor.load(tiny_bundle, backend="onnxruntime")  # no ONNX recorded in that card


def test_int8_quantisation_option(tiny_bundle, tmp_path):
    import shutil

    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    assert main(["export", "--weights", str(bundle), "--onnx", str(bundle / "model.onnx"), "--int8", "--calibration-images", "4"]) == 0
    card = json.loads((bundle / "card.json").read_text())
    assert card["onnx_int8"]["file"] == "model.int8.onnx" and card["onnx_int8"]["max_abs_prob_diff_vs_fp32"] < 0.1
    pred = Predictor.load(bundle, backend="onnxruntime-int8").predict(render_phantom(5, 0, size=256).display, cam=False)
    assert 0 <= pred.probability <= 1
