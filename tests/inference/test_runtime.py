"""Runtimes: one ``logits`` interface; ``select`` picks the fastest faithful one from evidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxr_miliary.inference.runtime import OnnxBackend, TorchBackend, select
from cxr_miliary.models import load_bundle


def test_select_takes_the_fastest_faithful_candidate():
    figures = {
        "torch-fp32": {"img_s": 10.0, "max_abs_prob_diff": 0.0, "flips": 0},
        "fast-wrong": {"img_s": 90.0, "max_abs_prob_diff": 0.02, "flips": 0},
        "fast-right": {"img_s": 50.0, "max_abs_prob_diff": 0.004, "flips": 0},
        "slow-right": {"img_s": 20.0, "max_abs_prob_diff": 0.0, "flips": 0},
    }
    assert select(figures) == "fast-right"


def test_select_keeps_the_reference_when_every_candidate_drifts_or_flips():
    figures = {
        "torch-fp32": {"img_s": 10.0, "max_abs_prob_diff": 0.0, "flips": 0},
        "flips": {"img_s": 90.0, "max_abs_prob_diff": 0.004, "flips": 1},  # within the bar but a decision moved
        "drifts": {"img_s": 80.0, "max_abs_prob_diff": 0.3, "flips": 0},
    }
    assert select(figures) == "torch-fp32"


def test_torch_backends_agree_and_chunk(tiny_bundle):
    model, _ = load_bundle(tiny_bundle)
    x = np.random.default_rng(0).random((5, 1, 128, 128)).astype(np.float32)
    cl = TorchBackend(model, "cpu", "fp32")
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).reshape(-1).numpy()
    assert cl.micro_batch == 1 and cl.name == "torch-fp32"
    np.testing.assert_allclose(cl.logits(x), ref, atol=1e-4)
    eager = TorchBackend(model, "cpu", "fp32", channels_last=False, micro_batch=0)
    assert eager.name == "torch-fp32-eager"
    np.testing.assert_allclose(eager.logits(torch.from_numpy(x)), ref, atol=1e-4)
    assert eager.logits(x[:0]).shape == (0,)
    with pytest.raises(ValueError):
        TorchBackend(model, "cpu", "fp16")


def test_onnx_backend_matches_torch_and_checks_the_file(tiny_bundle, tmp_path):
    pytest.importorskip("onnxruntime")
    from cxr_miliary.models import BundleError
    from cxr_miliary.models.onnx import export_onnx

    rec = export_onnx(tiny_bundle, tmp_path / "m.onnx")
    model, _ = load_bundle(tiny_bundle)
    x = np.random.default_rng(1).random((3, 1, 128, 128)).astype(np.float32)
    ort = OnnxBackend(tmp_path / "m.onnx", rec["sha256"])
    assert ort.outputs == ["logit", "activations", "cam_grad"] and ort.name == "onnxruntime-fp32"
    np.testing.assert_allclose(ort.logits(x), TorchBackend(model).logits(x), atol=1e-4)
    with pytest.raises(BundleError):
        OnnxBackend(tmp_path / "m.onnx", "0" * 64)
