"""Running a lung bundle: ONNX Runtime and the PyTorch network give the same fields."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxr_miliary.models.lung_bundle import read_lung_card
from cxr_miliary.models.lung_segmenter import LungSegmenter, zoom_back, zoom_view

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
        view = zoom_view(x, z)
        assert view.sum() == pytest.approx(x.sum() * z * z, rel=0.05)
        assert view[0].max() == 0 and view[:, -1].max() == 0  # the frame is black, as the letterbox's
        back = zoom_back(view, z)
        assert np.abs(back - x)[35:85, 25:55].max() < 1e-3 and np.mean(np.abs(back - x)) < 0.02
    assert zoom_view(x, 1.0) is x


def test_views_run_in_one_batch_and_say_which_pixels_they_see(lung_bundle):
    seg = LungSegmenter(lung_bundle)
    x = np.random.default_rng(1).random((128, 128)).astype(np.float32)
    probs, _ = seg.predict(x)
    total, seen = seg.predict_views(x, (1.0,))
    np.testing.assert_allclose(total, probs, atol=1e-6)
    assert (seen == 1).all()
    total, seen = seg.predict_views(x, (0.9, 0.8, 1.25))
    assert total.shape == probs.shape and seen.min() == 2 and seen.max() == 3
    # the zoomed-in view sees the middle (within 1/1.25 of the centre's reach), not the rim
    assert seen[64, 64] == 3 and seen[2, 2] == 2 and seen[64, 10] == 2 and seen[64, 20] == 3
    np.testing.assert_allclose(total.sum(axis=0), seen, atol=1e-4)
    shrunk, _ = seg.predict(zoom_view(x, 0.8))
    np.testing.assert_allclose(seg.predict_views(x, (0.8,))[0], np.stack([zoom_back(c, 0.8) for c in shrunk]), atol=1e-5)
    for bad in ((), (1.0, 5.0), (0.0,)):
        with pytest.raises(ValueError, match="zooms"):
            seg.predict_views(x, bad)
