"""The lung-field model: bundle with ONNX parity, the segmenter on either runtime, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cxr_miliary.models import BundleError
from cxr_miliary.models.lung_model import LungSegmenter, create_lung_model, read_lung_card, save_lung_bundle

pytest.importorskip("segmentation_models_pytorch")


@pytest.fixture(scope="module")
def lung_bundle(tmp_path_factory):
    torch.manual_seed(0)
    model = create_lung_model()
    return save_lung_bundle(
        model,
        tmp_path_factory.mktemp("lungs") / "b",
        input_size=128,
        encoder="tu-mobilenetv3_small_100",
        decoder_channels=(64, 32, 24, 16, 8),
        training_data={"description": "test"},
        metrics={},
    )


def test_bundle_runs_on_onnxruntime_and_torch_alike(lung_bundle):
    card = read_lung_card(lung_bundle)
    assert card["onnx"]["parity_max_abs_logit_diff"] < 1e-3 and card["classes"][1] == "image-left lung"
    x = np.random.default_rng(0).random((128, 128)).astype(np.float32)
    ort = LungSegmenter(lung_bundle)
    assert ort._session is not None
    (lung_bundle / "card.json").write_text(json.dumps({k: v for k, v in card.items() if k != "onnx"}))
    torch_seg = LungSegmenter(lung_bundle)
    assert torch_seg._model is not None
    np.testing.assert_allclose(ort.logits(x[None, None]), torch_seg.logits(x[None, None]), atol=1e-3)
    assert ort.sides(x).shape == (128, 128) and ort.sides(x).dtype == np.int8
    (lung_bundle / "card.json").write_text(json.dumps(card))


def test_malformed_cards_are_refused(lung_bundle, tmp_path):
    card = read_lung_card(lung_bundle)
    for bad in ({**card, "task": "classifier"}, {**card, "weights": {"file": "../x.safetensors", "sha256": "0"}}, {**card, "input_size": 10**6}):
        (tmp_path / "card.json").write_text(json.dumps(bad))
        with pytest.raises(BundleError):
            read_lung_card(tmp_path)
