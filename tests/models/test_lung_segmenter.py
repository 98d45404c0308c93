"""Running a lung bundle: ONNX Runtime and the PyTorch network give the same fields."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxr_miliary.models.lung_bundle import read_lung_card
from cxr_miliary.models.lung_segmenter import LungSegmenter

pytest.importorskip("segmentation_models_pytorch")


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
