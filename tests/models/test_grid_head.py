"""The grid head: pooled per image cell, bundle round trip, old names, ONNX."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from cxr_miliary import Predictor
from cxr_miliary.models import cam_target_layer, create_model, load_bundle, save_bundle
from cxr_miliary.models.bundle import canonical_head
from cxr_miliary.models.grid_head import GRID, GridClassifier, GridHead, GridPool


def _card(model, size=96, head="grid"):
    return {
        "name": "z",
        "backbone": "test_resnet",
        "head": head,
        "cam_target_layer": cam_target_layer(model),
        "preprocess": {"image_size": size, "channels": 1, "mean": 0.5, "std": 0.25},
    }


def test_grid_head_sees_where_the_evidence_is():
    """Same total evidence, different cells -> different logits (a global mean cannot)."""
    torch.manual_seed(0)
    head = GridHead(4, hidden=8).eval()
    both = torch.ones(1, 4, 6, 4)  # every cell
    one_side = torch.zeros(1, 4, 6, 4)
    one_side[..., :, :2] = 2.0  # image-left half only, twice as dense: same global mean
    assert both.mean() == one_side.mean()
    assert not torch.allclose(head(both), head(one_side))


def test_grid_model_round_trips_through_a_bundle(tmp_path):
    torch.manual_seed(0)
    model = create_model("test_resnet", head="grid").eval()
    assert isinstance(model, GridClassifier) and cam_target_layer(model).startswith("net.")
    out = save_bundle(model, tmp_path / "b", _card(model))
    loaded, card2 = load_bundle(out)
    x = torch.rand(2, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert card2.head == "grid"
    pred = Predictor.load(out, precision="fp32").predict(torch.rand(160, 160).numpy(), force=True)  # noise: forced past the chest check

    assert pred.cam is not None and pred.cam.shape == (160, 160)  # Grad-CAM through the grid head


def test_bundles_written_before_the_rename_still_load(tmp_path):
    """Old cards say head "zones" and old weights name the per-cell layer "head.zone"."""
    torch.manual_seed(0)
    model = create_model("test_resnet", head="zones").eval()
    out = save_bundle(model, tmp_path / "b", _card(model, head="zones"))
    state = {k.replace("head.cell.", "head.zone."): v for k, v in load_file(str(out / "model.safetensors")).items()}
    assert any(k.startswith("head.zone.") for k in state)
    save_file(state, str(out / "model.safetensors"))
    card = json.loads((out / "card.json").read_text())
    card["head"] = "zones"
    card["weights"]["sha256"] = __import__("hashlib").sha256((out / "model.safetensors").read_bytes()).hexdigest()
    (out / "card.json").write_text(json.dumps(card))
    loaded, c = load_bundle(out)
    assert c.head == "grid" and isinstance(loaded, GridClassifier)
    x = torch.rand(1, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert canonical_head("zones") == "grid"


def test_grid_training_continues_from_either_weights_layout(tmp_path):
    torch.manual_seed(0)
    plain = create_model("test_resnet")
    save_file(plain.state_dict(), str(tmp_path / "plain.safetensors"))
    g = create_model("test_resnet", head="grid", pretrained_file=tmp_path / "plain.safetensors")
    torch.testing.assert_close(g.net.conv1[0].weight, plain.conv1[0].weight)  # backbone taken over, classifier dropped
    save_file(g.state_dict(), str(tmp_path / "grid.safetensors"))
    g2 = create_model("test_resnet", head="grid", pretrained_file=tmp_path / "grid.safetensors")
    torch.testing.assert_close(g2.head.mix[2].weight, g.head.mix[2].weight)  # a grid model continues whole
    with pytest.raises(ValueError):
        create_model("test_resnet", head="patches")


@pytest.mark.parametrize("hw", [(16, 16), (7, 5), (3, 2), (4, 9)])
def test_grid_pool_is_adaptive_average_pooling(hw):
    x = torch.rand(2, 3, *hw)
    torch.testing.assert_close(GridPool()(x), torch.nn.AdaptiveAvgPool2d(GRID)(x))


def test_grid_model_exports_to_onnx_with_parity(tmp_path):
    pytest.importorskip("onnxruntime")
    from cxr_miliary.models.onnx import export_onnx

    torch.manual_seed(0)
    model = create_model("test_resnet", head="grid").eval()
    out = save_bundle(model, tmp_path / "b", _card(model, size=128))
    rec = export_onnx(out, out / "model.onnx")
    assert rec["parity_max_abs_prob_diff"] <= 1e-4 and rec["outputs"] == ["logit", "activations", "cam_grad"]
    p_ort, p_t = Predictor.load(out, backend="onnxruntime"), Predictor.load(out, precision="fp32")
    x = torch.rand(3, 1, 128, 128)
    assert (p_ort.logits(x) - p_t.logits(x)).abs().max() <= 1e-4
