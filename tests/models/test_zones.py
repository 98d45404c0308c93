"""The zones head: pooled per lung zone, bundle round trip, ONNX, training through Lightning."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from cxr_miliary import Predictor
from cxr_miliary.models import cam_target_layer, create_model, load_bundle, save_bundle
from cxr_miliary.models.zones import ZoneClassifier, ZoneHead


def test_zone_head_sees_where_the_evidence_is():
    """Same total evidence, different zones -> different logits (a global mean cannot)."""
    torch.manual_seed(0)
    head = ZoneHead(4, hidden=8).eval()
    both = torch.zeros(1, 4, 6, 4)
    both[..., :, :] = 1.0  # every zone
    one_side = torch.zeros(1, 4, 6, 4)
    one_side[..., :, :2] = 2.0  # image-left half only, twice as dense: same global mean
    assert both.mean() == one_side.mean()
    assert not torch.allclose(head(both), head(one_side))


def test_zones_model_round_trips_through_a_bundle(tmp_path):
    torch.manual_seed(0)
    model = create_model("test_resnet", head="zones").eval()
    assert isinstance(model, ZoneClassifier) and cam_target_layer(model).startswith("net.")
    card = {"name": "z", "backbone": "test_resnet", "head": "zones", "cam_target_layer": cam_target_layer(model),
            "preprocess": {"image_size": 96, "channels": 1, "mean": 0.5, "std": 0.25}}
    out = save_bundle(model, tmp_path / "b", card)
    loaded, card2 = load_bundle(out)
    x = torch.rand(2, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert card2["head"] == "zones"
    p = Predictor.load(out, precision="fp32")
    pred = p.predict(torch.rand(160, 160).numpy())
    assert pred.cam is not None and pred.cam.shape == (160, 160)  # Grad-CAM through the zones head


def test_zones_training_continues_from_either_weights_layout(tmp_path):
    torch.manual_seed(0)
    plain = create_model("test_resnet")
    save_file(plain.state_dict(), str(tmp_path / "plain.safetensors"))
    z = create_model("test_resnet", head="zones", pretrained_file=tmp_path / "plain.safetensors")
    torch.testing.assert_close(z.net.conv1[0].weight, plain.conv1[0].weight)  # backbone taken over, classifier dropped
    save_file(z.state_dict(), str(tmp_path / "zones.safetensors"))
    z2 = create_model("test_resnet", head="zones", pretrained_file=tmp_path / "zones.safetensors")
    torch.testing.assert_close(z2.head.mix[2].weight, z.head.mix[2].weight)  # a zones model continues whole
    with pytest.raises(ValueError):
        create_model("test_resnet", head="patches")


@pytest.mark.parametrize("hw", [(16, 16), (7, 5), (3, 2), (4, 9)])
def test_zone_pool_is_adaptive_average_pooling(hw):
    from cxr_miliary.models.zones import GRID, ZonePool

    x = torch.rand(2, 3, *hw)
    torch.testing.assert_close(ZonePool()(x), torch.nn.AdaptiveAvgPool2d(GRID)(x))


def test_zones_model_exports_to_onnx_with_parity(tmp_path):
    pytest.importorskip("onnxruntime")
    from cxr_miliary.models.onnx_export import export_onnx

    torch.manual_seed(0)
    model = create_model("test_resnet", head="zones").eval()
    card = {"name": "z", "backbone": "test_resnet", "head": "zones", "cam_target_layer": cam_target_layer(model),
            "preprocess": {"image_size": 128, "channels": 1, "mean": 0.5, "std": 0.25}}
    out = save_bundle(model, tmp_path / "b", card)
    rec = export_onnx(out, out / "model.onnx")
    assert rec["parity_max_abs_prob_diff"] <= 1e-4
    p_ort, p_t = Predictor.load(out, backend="onnxruntime"), Predictor.load(out, precision="fp32")
    x = torch.rand(3, 1, 128, 128)
    assert (p_ort.logits(x) - p_t.logits(x)).abs().max() <= 1e-4
