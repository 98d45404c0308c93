"""``precision="auto"``: the fastest runtime measured to give fp32's answers, cached; never a Predictor inside."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cxr_miliary import Predictor
from cxr_miliary.inference import fastpath
from cxr_miliary.inference.runtime import MAX_ABS_PROB_DIFF, TorchBackend
from cxr_miliary.models import load_bundle


def test_bf16_network_folds_batchnorm_and_keeps_the_first_conv_in_fp32(tiny_bundle):
    model, _ = load_bundle(tiny_bundle)
    net = fastpath.bf16_network(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d) or type(m).__name__ == "Fp32")
    assert type(first).__name__ == "Fp32"
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original (for Grad-CAM) untouched
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(net(x.contiguous(memory_format=torch.channels_last)), model(x), atol=1e-4, rtol=1e-4)


def test_measure_reports_speed_drift_and_flips_and_drops_failing_paths(tiny_bundle):
    model, card = load_bundle(tiny_bundle)
    ref = TorchBackend(model, "cpu", "fp32")

    class Shifted(TorchBackend):
        def logits(self, x):
            return super().logits(x) + 3.0  # p moves a lot

    class Broken(TorchBackend):
        def logits(self, x):
            raise RuntimeError("kernel missing")

    x = fastpath.probe_inputs(card, 4)
    figures = fastpath.measure(ref, {"shifted": Shifted(model), "broken": Broken(model), "same": TorchBackend(model)}, x, 1.5, 0.5)
    assert set(figures) == {"torch-fp32", "shifted", "same"}
    assert figures["same"]["max_abs_prob_diff"] == 0.0 and figures["same"]["flips"] == 0
    assert figures["shifted"]["max_abs_prob_diff"] > 0.1
    assert all(f["img_s"] > 0 for f in figures.values())


def test_auto_measures_once_then_uses_the_cache(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    auto = Predictor.load(tiny_bundle, precision="auto")
    (entry,) = json.loads((tmp_path / "fastpath.json").read_text()).values()
    assert entry["choice"] == auto.runtime.name == auto.fastpath["choice"] and entry["probe_images"] == fastpath.PROBE_IMAGES
    if fastpath.cpu_has_native_bf16():
        assert "torch-bf16" in entry["figures"]
    ref = Predictor.load(tiny_bundle, precision="fp32")
    x = fastpath.probe_inputs(ref.card)
    p_auto, p_ref = auto.probability(auto.runtime.logits(x)), ref.probability(ref.runtime.logits(x))
    assert np.abs(p_auto - p_ref).max() <= MAX_ABS_PROB_DIFF  # the chosen path gives fp32's answers

    def no_measuring(*a, **k):
        raise AssertionError("measured again despite the cache")

    monkeypatch.setattr(fastpath, "measure", no_measuring)
    again = Predictor.load(tiny_bundle, precision="auto")
    assert again.runtime.name == auto.runtime.name
    assert again.model_info["runtime"] == auto.runtime.name and auto.runtime.name in repr(again)


def test_auto_never_tries_emulated_bf16(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    monkeypatch.setattr(fastpath, "cpu_has_native_bf16", lambda: False)
    p = Predictor.load(tiny_bundle, precision="auto")
    assert p.precision == "fp32" and "bf16" not in json.dumps(p.fastpath.get("figures", {}))


def test_a_damaged_cache_is_rebuilt(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    for damage in ("[1, 2", "[1, 2]", '{"x": 1}'):
        (tmp_path / "fastpath.json").write_text(damage)
        p = Predictor.load(tiny_bundle, precision="auto")
        assert p.fastpath["choice"] == p.runtime.name and "figures" in p.fastpath  # measured again, not read from the damage
        cache = json.loads((tmp_path / "fastpath.json").read_text())
        assert isinstance(cache, dict) and any(isinstance(v, dict) and "choice" in v for v in cache.values())


def test_onnxruntime_is_a_candidate_through_a_cached_export(tiny_bundle, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    calls = []
    measure = fastpath.measure

    def counted(reference, options, *a, **k):
        calls.append(sorted(options))
        return measure(reference, options, *a, **k)

    def pick_onnx(figures, **kw):
        return "onnxruntime-fp32" if "onnxruntime-fp32" in figures else "torch-fp32"

    monkeypatch.setattr(fastpath, "measure", counted)
    monkeypatch.setattr(fastpath, "select", pick_onnx)
    p = Predictor.load(tiny_bundle, precision="auto")
    assert "onnxruntime-fp32" in calls[0] and p.backend == "onnxruntime" and p.runtime.name == "onnxruntime-fp32"
    assert p.fastpath["figures"]["onnxruntime-fp32"]["max_abs_prob_diff"] <= 1e-4  # the export is exact
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


def test_auto_builds_no_predictor_and_sets_no_threads(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    built = []
    original = Predictor.__init__

    def counting(self, *a, **k):
        built.append(1)
        original(self, *a, **k)

    monkeypatch.setattr(Predictor, "__init__", counting)
    threads = torch.get_num_threads()
    Predictor.load(tiny_bundle, precision="auto")
    assert built == [1] and torch.get_num_threads() == threads


def _poison(cache: Path, **changes) -> None:
    data = json.loads((cache / "fastpath.json").read_text())
    for record in data.values():
        record.update(changes)
    (cache / "fastpath.json").write_text(json.dumps(data))


def test_a_poisoned_cache_never_changes_an_answer(tiny_bundle, tmp_path, monkeypatch):
    """A record naming another ONNX file, or a verdict its own figures refuse, is measured again."""
    pytest.importorskip("onnxruntime")
    from cxr_miliary.models.onnx import _with_activations

    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))
    monkeypatch.setattr(fastpath, "select", lambda figures, **k: "onnxruntime-fp32" if "onnxruntime-fp32" in figures else "torch-fp32")
    honest = Predictor.load(tiny_bundle, precision="auto")
    x = fastpath.probe_inputs(honest.card, 4)
    want = honest.runtime.logits(x)
    model, card = load_bundle(tiny_bundle)
    inner = _with_activations(model, card.cam_target_layer)

    class Evil(torch.nn.Module):  # the same network, +4 on every logit
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, t):
            logit, acts = self.inner(t)
            return logit + 4.0, acts

    evil = tmp_path / "evil.onnx"
    torch.onnx.export(Evil(), (torch.zeros(1, 1, 128, 128),), str(evil), input_names=["image"], output_names=["logit", "activations"], dynamo=False)
    _poison(tmp_path, onnx_file=str(evil), onnx_sha256=__import__("cxr_miliary.models", fromlist=["sha256_file"]).sha256_file(evil))
    again = Predictor.load(tiny_bundle, precision="auto")
    np.testing.assert_allclose(again.runtime.logits(x), want, atol=1e-4)  # the evil file was not used
    assert Path(again.fastpath["onnx_file"]) != evil
    # a verdict its own figures refuse (bf16 drifting past the bar) is measured again, not obeyed
    monkeypatch.setattr(fastpath, "select", fastpath.__dict__["select"])
    figures = {
        "torch-fp32": {"img_s": 1.0, "max_abs_prob_diff": 0.0, "flips": 0},
        "torch-bf16": {"img_s": 9.0, "max_abs_prob_diff": 0.024, "flips": 0},
    }
    _poison(tmp_path, choice="torch-bf16", figures=figures)
    measured = []
    monkeypatch.setattr(fastpath, "measure", lambda *a, **k: measured.append(1) or figures)
    p = Predictor.load(tiny_bundle, precision="auto")
    assert measured and p.runtime.name != "torch-bf16"


@pytest.mark.parametrize("kind", ["deep", "fifo", "devzero", "folder", "huge"])
def test_a_cache_that_is_not_a_small_plain_file_is_rebuilt_without_reading_it(tiny_bundle, tmp_path, monkeypatch, kind):
    import os

    cache = tmp_path / "c"
    cache.mkdir()
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(cache))
    target = cache / "fastpath.json"
    if kind == "deep":
        target.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "devzero":
        target.symlink_to("/dev/zero")
    elif kind == "folder":
        target.mkdir()
    else:
        target.write_text('{"x": "' + "a" * (fastpath.MAX_CACHE_BYTES + 10) + '"}')
    p = Predictor.load(tiny_bundle, precision="auto")  # returns (a FIFO would hang an open())
    assert p.fastpath["choice"] == p.runtime.name
    assert not [f for f in cache.iterdir() if f.name.endswith(".tmp")]  # no temporary file left behind


def test_two_processes_filling_an_empty_cache_keep_both_verdicts(tmp_path, monkeypatch):
    import multiprocessing as mp

    monkeypatch.setenv("CXR_MILIARY_CACHE", str(tmp_path))

    def store(k: str) -> None:
        for i in range(20):
            fastpath._store(tmp_path / "fastpath.json", f"{k}{i}", {"choice": "torch-fp32"})

    procs = [mp.get_context("fork").Process(target=store, args=(k,)) for k in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert len(json.loads((tmp_path / "fastpath.json").read_text())) == 40
