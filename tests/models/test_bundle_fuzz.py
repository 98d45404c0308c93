"""Fuzzing the files a run trusts besides images: lung-bundle cards and the fast-path cache.

A mutated lung card is a :class:`BundleError` or a bundle that loads and runs; a mutated
``fastpath.json`` never changes an answer, never hangs and never crashes. CI runs a few
dozen of each; ``CXR_MILIARY_FUZZ_EXAMPLES`` raises it for a release check.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxr_miliary import Predictor
from cxr_miliary.inference import fastpath
from cxr_miliary.models import BundleError
from cxr_miliary.models.lung_bundle import save_lung_bundle
from cxr_miliary.models.lung_model import create_lung_model
from cxr_miliary.models.lung_segmenter import LungSegmenter

pytest.importorskip("segmentation_models_pytorch")
EXAMPLES = max(10, int(os.environ.get("CXR_MILIARY_FUZZ_EXAMPLES", "300")) // 25)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def good_lungs(tmp_path_factory):
    torch.manual_seed(0)
    return save_lung_bundle(
        create_lung_model(),
        tmp_path_factory.mktemp("fuzzlungs") / "b",
        input_size=64,
        encoder="tu-mobilenetv3_small_100",
        decoder_channels=(64, 32, 24, 16, 8),
        training_data={},
        metrics={},
    )


@SETTINGS
@given(data=st.data())
def test_mutated_lung_cards_load_or_are_refused(good_lungs, tmp_path, data):
    card = json.loads((good_lungs / "card.json").read_text())
    key = data.draw(st.sampled_from([*card, "extra"]))
    if data.draw(st.booleans()):
        card[key] = data.draw(_json)
    else:
        card.pop(key, None)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    for f in good_lungs.iterdir():
        if f.name != "card.json":
            (folder / f.name).write_bytes(f.read_bytes())
    (folder / "card.json").write_text(json.dumps(card))
    signal.alarm(60)
    try:
        seg = LungSegmenter(folder)
    except BundleError:
        return
    finally:
        signal.alarm(0)
    probs = seg.probabilities(np.zeros((seg.size, seg.size), np.float32))
    assert probs.shape == (3, seg.size, seg.size) and np.isfinite(probs).all()


@SETTINGS
@given(data=st.data())
def test_mutated_fastpath_caches_never_change_an_answer(tiny_bundle, tmp_path, monkeypatch, data):
    cache = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(cache))
    reference = Predictor.load(tiny_bundle, precision="fp32")
    x = fastpath.probe_inputs(reference.card, 2)
    want = reference.runtime.logits(x)
    honest = Predictor.load(tiny_bundle, precision="auto")  # writes a genuine verdict
    raw = json.loads((cache / "fastpath.json").read_text())
    key = next(iter(raw))
    kind = data.draw(st.sampled_from(["field", "bytes", "replace"]))
    if kind == "field":
        raw[key][data.draw(st.sampled_from(["choice", "figures", "onnx_file", "onnx_sha256", "machine", "model_sha256"]))] = data.draw(
            _json | st.sampled_from(["torch-bf16", "onnxruntime-fp32", "torch-fp32", str(tmp_path / "x.onnx")])
        )
        (cache / "fastpath.json").write_text(json.dumps(raw))
    elif kind == "bytes":
        (cache / "fastpath.json").write_bytes(data.draw(st.binary(max_size=512)))
    else:
        (cache / "fastpath.json").write_text(json.dumps(data.draw(_json)))
    signal.alarm(120)
    try:
        p = Predictor.load(tiny_bundle, precision="auto")
    finally:
        signal.alarm(0)
    got = p.runtime.logits(x)
    assert np.abs(got - want).max() <= 0.1  # fp32, ONNX (exact) or bf16 measured faithful: never a changed answer
    assert p.runtime.name in ("torch-fp32", "torch-bf16", "onnxruntime-fp32") and honest.runtime.name
