"""Running a lung bundle: ONNX Runtime and the PyTorch network give the same fields."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxr_miliary.models.lung_bundle import read_lung_card
from cxr_miliary.models.lung_segmenter import LungSegmenter, zoom_back, zoom_out

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


def test_zoomed_out_views_map_back_onto_the_squares_pixels():
    """A view shrunk about the centre and its map taken back land on the same pixels (within interpolation)."""
    x = np.zeros((128, 128), np.float32)
    x[30:90, 20:60] = 1.0  # a block off centre: a wrong centre or direction moves it
    for z in (0.9, 0.8, 0.5):
        view = zoom_out(x, z)
        assert view.sum() == pytest.approx(x.sum() * z * z, rel=0.05)
        assert view[0].max() == 0 and view[:, -1].max() == 0  # the frame is black, as the letterbox's
        back = zoom_back(view, z)
        assert np.abs(back - x)[35:85, 25:55].max() < 1e-3 and np.mean(np.abs(back - x)) < 0.02
    assert zoom_out(x, 1.0) is x


def test_views_average_in_one_batch(lung_bundle):
    seg = LungSegmenter(lung_bundle)
    x = np.random.default_rng(1).random((128, 128)).astype(np.float32)
    probs, _ = seg.predict(x)
    np.testing.assert_allclose(seg.predict_views(x, (1.0,)), probs, atol=1e-6)
    views = seg.predict_views(x, (0.9, 0.8))
    assert views.shape == probs.shape and np.allclose(views.sum(axis=0), 1.0, atol=1e-4)
    assert not np.allclose(views, probs, atol=1e-3)  # the zoomed views are other views
    shrunk, _ = seg.predict(zoom_out(x, 0.8))
    np.testing.assert_allclose(seg.predict_views(x, (0.8,)), np.stack([zoom_back(c, 0.8) for c in shrunk]), atol=1e-5)
    for bad in ((), (1.0, 1.2), (0.0,)):
        with pytest.raises(ValueError, match="zooms"):
            seg.predict_views(x, bad)
