"""The lung bundle: a card checked before anything is allocated, crafted bundles refused before any input."""

from __future__ import annotations

import json

import pytest
import torch

from cxr_miliary.models import BundleError
from cxr_miliary.models.lung_bundle import read_lung_card
from cxr_miliary.models.lung_segmenter import LungSegmenter

pytest.importorskip("segmentation_models_pytorch")


def test_malformed_cards_are_refused(lung_bundle, tmp_path):
    card = read_lung_card(lung_bundle)
    for bad in ({**card, "task": "classifier"}, {**card, "weights": {"file": "../x.safetensors", "sha256": "0"}}, {**card, "input_size": 10**6}):
        (tmp_path / "card.json").write_text(json.dumps(bad))
        with pytest.raises(BundleError):
            read_lung_card(tmp_path)


def test_the_card_carries_the_chest_checks_bar_for_its_model(lung_bundle, tmp_path):
    """``chest_check.unsure_lung_confidence`` is read as a number from 0.5 to 1; anything else is refused; absent, None."""
    from cxr_miliary.models.lung_bundle import LungCard, load_lung_card

    card = read_lung_card(lung_bundle)
    assert LungCard.from_dict(card).unsure_lung_confidence is None
    assert LungCard.from_dict({**card, "chest_check": {"unsure_lung_confidence": 0.72}}).unsure_lung_confidence == 0.72
    for bad in ({"unsure_lung_confidence": 0.3}, {"unsure_lung_confidence": True}, {"unsure_lung_confidence": "0.8"}, {}, [0.8]):
        with pytest.raises(BundleError, match="chest_check"):
            LungCard.from_dict({**card, "chest_check": bad})
    # the shipped eleventh lung model says its own bar, the one chosen for it
    from cxr_miliary.models.locate import find_default_bundle

    assert load_lung_card(find_default_bundle("lungs")).unsure_lung_confidence == 0.77


CRAFTED = [
    "not-json",
    "huge-card",
    "deep-card",
    "wrong-task",
    "giant-input",
    "giant-decoder",
    "hub-encoder",
    "weights-outside",
    "bad-orientation",
    "zero-std",
    "nan-mean",
    "onnx-outside",
    "onnx-changed",
    "onnx-garbage",
    "onnx-wrong-shape",
    "giant-tensor",
    "wrong-tensors",
]


def _craft(src, dst, kind):
    """A copy of a good lung bundle, damaged one way."""
    import hashlib
    import shutil
    import struct

    shutil.copytree(src, dst)
    card = json.loads((dst / "card.json").read_text())

    def sha(p):
        return hashlib.sha256(p.read_bytes()).hexdigest()

    onnx_file = dst / "model.onnx"
    if kind == "not-json":
        (dst / "card.json").write_text("{nope")
        return
    if kind == "huge-card":
        (dst / "card.json").write_text(json.dumps({**card, "pad": "x" * (5 << 20)}))
        return
    if kind == "deep-card":
        (dst / "card.json").write_text("[" * 100_000 + "]" * 100_000)
        return
    changes = {
        "wrong-task": {"task": "classifier"},
        "giant-input": {"input_size": 10**6},
        "giant-decoder": {"decoder_channels": [10**6] * 5},
        "hub-encoder": {"encoder": "hf-hub:someone/evil"},
        "weights-outside": {"weights": {"file": "../x.safetensors", "sha256": card["weights"]["sha256"]}},
        "bad-orientation": {"orientation": ["up"]},
        "zero-std": {"normalise": {"mean": 0.5, "std": 0}},
        "nan-mean": {"normalise": {"mean": float("nan"), "std": 0.25}},
    }
    if kind in changes:
        card.update(changes[kind])
    elif kind == "onnx-outside":
        outside = dst.parent / f"{dst.name}-elsewhere.onnx"
        outside.write_bytes(onnx_file.read_bytes())
        onnx_file.unlink()
        onnx_file.symlink_to(outside)
    elif kind == "onnx-changed":
        onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    elif kind == "onnx-garbage":
        onnx_file.write_bytes(b"\x08\x07" + b"\xff" * 4000)
        card["onnx"]["sha256"] = sha(onnx_file)
    elif kind == "onnx-wrong-shape":  # a valid graph, recorded with its sha256, that is not this network
        m = torch.nn.Conv2d(1, 2, 1)
        torch.onnx.export(m, (torch.zeros(1, 1, 8, 8),), str(onnx_file), input_names=["image"], output_names=["logits"], dynamo=False)
        card["onnx"]["sha256"] = sha(onnx_file)
    elif kind in ("giant-tensor", "wrong-tensors"):  # the torch path: only the weights file is read
        card.pop("onnx")
        w = dst / "model.safetensors"
        if kind == "giant-tensor":
            header = json.dumps({"x": {"dtype": "F32", "shape": [400000, 100000], "data_offsets": [0, 160000000000]}}).encode()
        else:
            header = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
        w.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
        card["weights"]["sha256"] = sha(w)
    (dst / "card.json").write_text(json.dumps(card))


@pytest.mark.parametrize("kind", CRAFTED)
def test_crafted_lung_bundles_are_bundle_errors_before_any_input(lung_bundle, tiny_bundle, phantom_dir, tmp_path, kind, monkeypatch, capsys):
    from cxr_miliary.cli.main import main
    from cxr_miliary.explain.lungs import default_segmenter

    bad = tmp_path / "lungs"
    _craft(lung_bundle, bad, kind)
    with pytest.raises(BundleError):
        LungSegmenter(bad)
    monkeypatch.setenv("CXR_MILIARY_LUNGS", str(bad))
    default_segmenter.cache_clear()
    try:
        out = tmp_path / "s.csv"
        assert main(["--quiet", "score", str(phantom_dir / "images"), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "0"]) == 2
        assert not out.exists() and "error:" in capsys.readouterr().err  # one clear error, no row read
    finally:
        monkeypatch.delenv("CXR_MILIARY_LUNGS")
        default_segmenter.cache_clear()
