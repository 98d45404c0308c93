"""``precision="auto"``: the fastest path that is measured to give fp32's answers, cached."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from cxr_miliary import Predictor
from cxr_miliary.inference import fastpath


def _fn(offset: float, delay: float):
    def run(x: torch.Tensor) -> np.ndarray:
        time.sleep(delay)
        return np.linspace(0.05, 0.95, len(x)) + offset
    return run


def test_select_takes_the_fastest_faithful_candidate():
    x = torch.zeros(8, 1, 4, 4)
    ref = _fn(0.0, 0.05)
    choice, figures = fastpath.select(ref, {"fast-wrong": _fn(0.02, 0.0), "fast-right": _fn(0.004, 0.01), "slow-right": _fn(0.0, 0.03)}, x, 0.5)
    assert choice == "fast-right"
    assert figures["fast-wrong"]["max_abs_prob_diff"] == pytest.approx(0.02)
    assert figures["fast-right"]["img_s"] > figures["slow-right"]["img_s"] > figures["fp32"]["img_s"]


def test_select_falls_back_to_fp32_on_flips_errors_or_drift():
    x = torch.zeros(8, 1, 4, 4)

    def broken(x):
        raise RuntimeError("kernel missing")

    # 0.006 is within 0.01 but moves p=0.4999 over a 0.5 threshold: a flip disqualifies it
    near = lambda b: np.full(len(b), 0.4999)  # noqa: E731
    choice, figures = fastpath.select(near, {"flips": lambda b: np.full(len(b), 0.5059), "drifts": _fn(0.3, 0.0), "broken": broken}, x, 0.5)
    assert choice == "fp32"
    assert figures["flips"]["flips"] == 8 and "broken" not in figures


def test_bf16_network_folds_batchnorm_and_keeps_the_first_conv_in_fp32(tiny_bundle):
    model = Predictor.load(tiny_bundle, precision="fp32").model
    net = fastpath.bf16_network(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert isinstance(next(m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, fastpath._Fp32))), fastpath._Fp32)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original (for Grad-CAM) untouched
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(net(x.contiguous(memory_format=torch.channels_last)), model(x), atol=1e-4, rtol=1e-4)


def test_auto_measures_once_then_uses_the_cache(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    auto = Predictor.load(tiny_bundle, precision="auto")
    rec = json.loads((tmp_path / "fastpath.json").read_text())
    (entry,) = rec.values()
    assert entry["choice"] == auto.fastpath["choice"] and entry["probe_images"] == fastpath.PROBE_IMAGES
    if fastpath.cpu_has_native_bf16():
        assert "bf16" in entry["figures"]
    # the chosen path gives fp32's answers on the probe set
    ref = Predictor.load(tiny_bundle, precision="fp32")
    x = fastpath.probe_batch(ref)
    p_auto, p_ref = auto.probability(auto.logits(x).numpy()), ref.probability(ref.logits(x).numpy())
    assert np.abs(p_auto - p_ref).max() <= fastpath.MAX_ABS_PROB_DIFF

    def no_measuring(*a, **k):
        raise AssertionError("measured again despite the cache")

    monkeypatch.setattr(fastpath, "probe_batch", no_measuring)
    assert Predictor.load(tiny_bundle, precision="auto").precision == auto.precision


def test_auto_never_tries_emulated_bf16(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    monkeypatch.setattr(fastpath, "cpu_has_native_bf16", lambda: False)
    p = Predictor.load(tiny_bundle, precision="auto")
    assert p.precision == "fp32" and "bf16" not in json.dumps(p.fastpath.get("figures", {}))


def test_a_damaged_cache_is_rebuilt(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    (tmp_path / "fastpath.json").write_text("[1, 2")
    Predictor.load(tiny_bundle, precision="auto")
    (tmp_path / "fastpath.json").write_text("[1, 2]")
    p = Predictor.load(tiny_bundle, precision="auto")
    assert p.fastpath["choice"] in ("fp32", "bf16", "onnxruntime")
    if fastpath.candidates(p)[0]:  # something was measured, so the verdict was written over the damage
        assert isinstance(json.loads((tmp_path / "fastpath.json").read_text()), dict)


def test_onnxruntime_is_a_candidate_through_a_cached_export(tiny_bundle, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    real_select = fastpath.select
    calls = []

    def pick_onnx(reference, options, x, threshold):
        calls.append(sorted(options))
        _, figures = real_select(reference, options, x, threshold)
        return ("onnxruntime" if "onnxruntime" in options else "fp32"), figures

    monkeypatch.setattr(fastpath, "select", pick_onnx)
    p = Predictor.load(tiny_bundle, precision="auto")
    assert "onnxruntime" in calls[0] and p.backend == "onnxruntime"
    assert p.fastpath["figures"]["onnxruntime"]["max_abs_prob_diff"] <= 1e-4  # the export is exact
    (onnx,) = (tmp_path / "onnx").glob("*.onnx")
    x = torch.rand(3, 1, 128, 128)
    ref = Predictor.load(tiny_bundle, precision="fp32")
    assert (p.logits(x) - ref.logits(x)).abs().max() <= 1e-4
    Predictor.load(tiny_bundle, precision="auto")
    assert len(calls) == 1  # cached verdict, same file
    onnx.write_bytes(onnx.read_bytes() + b"\0")  # the checked file changed: exported and measured again
    again = Predictor.load(tiny_bundle, precision="auto")
    assert len(calls) == 2 and again.backend == "onnxruntime"
    assert (again.logits(x) - ref.logits(x)).abs().max() <= 1e-4
