"""The lung bundle's shape refiner: identity when untrained, written and checked as the bundle's other files, used by the fields."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from cxr_miliary.models import BundleError
from cxr_miliary.models.lung_bundle import LungCard, read_lung_card, save_refiner
from cxr_miliary.models.lung_refiner import RefinerRunner, create_lung_refiner, refiner_input
from cxr_miliary.models.lung_segmenter import LungSegmenter

pytest.importorskip("segmentation_models_pytorch")


def _probs(seed: int, size: int = 128) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(3, size, size)).astype(np.float32) * 3
    e = np.exp(z - z.max(0))
    return e / e.sum(0)


@pytest.fixture(scope="module")
def refined_bundle(lung_bundle, tmp_path_factory):
    """The shared lung bundle with a refiner whose last layer was moved off zero (so it changes what it reads)."""
    out = tmp_path_factory.mktemp("refined") / "b"
    shutil.copytree(lung_bundle, out)
    torch.manual_seed(1)
    net = create_lung_refiner()
    with torch.no_grad():
        net.out.weight.normal_(0, 0.5)
        net.out.bias.copy_(torch.tensor([1.5, -1.5, 0.0]))
    save_refiner(net, out, training_data={"description": "test"}, metrics={"val/iou": 0.5}, size=128)
    return out


def test_an_untrained_refiner_gives_the_networks_probabilities_back():
    net = create_lung_refiner().eval()
    p = _probs(0)
    with torch.no_grad():
        out = torch.softmax(net(torch.from_numpy(refiner_input(p, np.random.default_rng(1).random((128, 128))))), 1)[0].numpy()
    # the network's log-probabilities plus a zero correction; only probabilities under 1e-4 are lifted
    assert np.abs(out - p).max() < 1e-3


def test_the_refiner_is_recorded_in_the_card_and_its_export_agrees_with_pytorch(refined_bundle):
    card = read_lung_card(refined_bundle)
    rec = card["refiner"]
    assert rec["channels"] == [16, 32, 48, 64, 96] and rec["pool"] == 4
    assert rec["onnx"]["parity_max_abs_logit_diff"] < 1e-3 and rec["metrics"]["val/iou"] == 0.5
    x = refiner_input(_probs(2), np.random.default_rng(3).random((128, 128)))
    via_onnx = RefinerRunner(refined_bundle, rec).logits(x)
    via_torch = RefinerRunner(refined_bundle, {k: v for k, v in rec.items() if k != "onnx"}).logits(x)
    assert via_onnx.shape == (1, 3, 128, 128)
    assert np.abs(via_onnx - via_torch).max() < 1e-3
    assert np.abs(via_torch - np.log(np.clip(x[:, :3], 1e-4, None))).max() > 0.1  # it does change the read-out


def test_the_segmenter_refines_only_with_a_refiner(lung_bundle, refined_bundle):
    plain, refined = LungSegmenter(lung_bundle), LungSegmenter(refined_bundle)
    assert not plain.has_refiner and refined.has_refiner
    p, square = _probs(4), np.random.default_rng(5).random((128, 128)).astype(np.float32)
    assert plain.refine(p, square) is p
    out = refined.refine(p, square)
    assert out.shape == p.shape and np.allclose(out.sum(0), 1, atol=1e-4) and np.abs(out - p).max() > 0.05


def test_the_fields_are_drawn_from_the_refined_probabilities(refined_bundle, monkeypatch):
    """Whole chests are refined (a refiner saying 'background' everywhere leaves no fields); chests the film cuts are not."""
    from cxr_miliary.explain.lungs import learned_lung_fields, read_network

    seg = LungSegmenter(refined_bundle)

    def two_lungs(top: int):
        def predict(square):
            p = np.zeros((3, 128, 128), np.float32)
            p[0] = 1
            for side, cols in ((1, slice(20, 55)), (2, slice(73, 108))):
                p[:, top:100, cols] = 0
                p[side, top:100, cols] = 1
            return p, None

        return predict

    monkeypatch.setattr(seg, "predict_views", lambda square, zooms: (np.zeros((3, 128, 128), np.float32), np.zeros((128, 128), np.float32)))
    film = np.full((300, 300), 0.5, np.float32)
    monkeypatch.setattr(seg, "predict", two_lungs(25))
    read = read_network(film, seg)
    assert read.refined and read.probs.shape == (3, 128, 128)
    assert not read_network(film, seg, refine=False).refined
    assert learned_lung_fields(film, seg, refine=False).small.any()

    def background(probs, square):
        out = np.zeros_like(probs)
        out[0] = 1
        return out

    monkeypatch.setattr(seg, "refine", background)
    import cxr_miliary.explain.lungs as lungs

    read = read_network(film, seg)  # the refined probabilities count REFINER_WEIGHT against the network's
    w = lungs.REFINER_WEIGHT
    assert 0 < w <= 1 and np.allclose(read.probs, w * background(read.unrefined, None) + (1 - w) * read.unrefined)
    monkeypatch.setattr(lungs, "REFINER_WEIGHT", 1.0)
    fields = learned_lung_fields(film, seg)
    assert not fields.small.any()
    assert fields.confidence == 1.0  # the sure share stays the square's own, not the refiner's
    # fields from the film's top edge: a half film, which the frontal-chest check must see cut - not refined
    monkeypatch.setattr(seg, "predict", two_lungs(0))
    assert not read_network(film, seg).refined
    assert learned_lung_fields(film, seg).small.any()


def test_a_changed_or_malformed_refiner_is_refused(refined_bundle, tmp_path):
    card = read_lung_card(refined_bundle)
    rec = card["refiner"]
    for bad in (
        {**rec, "channels": [16]},
        {**rec, "channels": [16, 32, "48"]},
        {**rec, "pool": 3},
        {**rec, "pool": True},
        {**rec, "weights": {"file": "../x.safetensors", "sha256": "0" * 64}},
        {**rec, "onnx": {"file": "refiner.pt", "sha256": "0" * 64}},
        [1, 2],
    ):
        with pytest.raises(BundleError, match="refiner"):
            LungCard.from_dict({**card, "refiner": bad})
    # a changed export: refused when the segmenter loads, before any film
    changed = tmp_path / "changed"
    shutil.copytree(refined_bundle, changed)
    with open(changed / "refiner.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BundleError, match="sha256"):
        LungSegmenter(changed)
    # changed weights, read by PyTorch when the card has no export
    torch_only = tmp_path / "torch_only"
    shutil.copytree(refined_bundle, torch_only)
    c = json.loads((torch_only / "card.json").read_text())
    del c["refiner"]["onnx"]
    (torch_only / "card.json").write_text(json.dumps(c))
    assert LungSegmenter(torch_only).has_refiner
    with open(torch_only / "refiner.safetensors", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BundleError, match="sha256"):
        LungSegmenter(torch_only)
