"""Maps from the forward pass (activations + the head's gradient) equal grad-cam's eager maps."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from cxr_miliary import Predictor
from cxr_miliary.explain.cam import METHODS
from cxr_miliary.models import cam_target_layer, create_model, save_bundle
from cxr_miliary.models.onnx import export_onnx
from cxr_miliary.phantom import render_phantom


def _bundle(tmp_path, head, backbone="test_resnet", seed=0):
    torch.manual_seed(seed)
    model = create_model(backbone, head=head).eval()
    with torch.no_grad():  # a random head can leave every map at zero; make the evidence positive somewhere
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    card = {
        "name": f"t-{head}",
        "backbone": backbone,
        "head": head,
        "cam_target_layer": cam_target_layer(model),
        "preprocess": {"image_size": 128, "channels": 1, "mean": 0.5, "std": 0.25},
        "threshold": 0.0,
    }
    return save_bundle(model, tmp_path / f"{backbone}-{head}", card)


def _eager(p):
    e = copy.copy(p)
    e.maps = "eager"
    return e


@pytest.mark.parametrize("head", ["global", "grid"])
def test_fast_maps_match_eager_for_every_method(tmp_path, head):
    bundle = _bundle(tmp_path, head)
    export_onnx(bundle, bundle / "model.onnx")
    images = [render_phantom(4040, i, size=256).display for i in range(3)]
    for backend in ("torch", "onnxruntime"):
        p = Predictor.load(bundle, precision="fp32", backend=backend)
        assert p.cam_path == "fast" and p.card.cam["gradient"] == "explicit"
        eager = _eager(p)

        for method in sorted(METHODS):
            for img in images:
                a, b = p.predict(img, cam_method=method, force=True), eager.predict(img, cam_method=method, force=True)
                assert abs(a.probability - b.probability) < 1e-4
                assert np.abs(a.cam - b.cam).max() <= 0.01, (backend, method)
                if a.cam.std() > 1e-6 and b.cam.std() > 1e-6:
                    assert np.corrcoef(a.cam.ravel(), b.cam.ravel())[0, 1] >= 0.999, (backend, method)
                assert a.distribution["pattern"] == b.distribution["pattern"]
                assert a.distribution["involved_zones"] == b.distribution["involved_zones"]


def test_a_head_without_closed_form_uses_autograd_on_the_head(tmp_path):
    bundle = _bundle(tmp_path, "global", backbone="test_convnext")
    p = Predictor.load(bundle, precision="fp32")
    assert p.cam_path == "fast" and p.card.cam["gradient"] == "autograd"
    img = render_phantom(4040, 5, size=256).display
    a, b = p.predict(img, force=True), _eager(p).predict(img, force=True)
    assert np.abs(a.cam - b.cam).max() <= 0.01


def test_a_network_whose_cam_layer_is_not_the_last_feature_map_stays_eager(tmp_path):
    bundle = _bundle(tmp_path, "global", backbone="test_efficientnet")
    p = Predictor.load(bundle, precision="fp32")
    assert p.cam_path == "eager" and "not the last feature map" in p.card.cam["reason"]
    pred = p.predict(render_phantom(4040, 6, size=256).display, force=True)
    assert pred.cam is not None and pred.cam.shape == (256, 256)
