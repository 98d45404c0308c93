"""The model card: checked against its schema before anything is allocated; unknown keys kept."""

from __future__ import annotations

import pytest

from cxr_miliary.models.card import BundleError, Card, canonical_head, check_file_record, training_domain


def _card(**over):
    d = {
        "name": "m",
        "backbone": "test_resnet",
        "preprocess": {"image_size": 128, "channels": 1, "mean": 0.5, "std": 0.25},
        "cam_target_layer": "layer4",
        "temperature": 1.5,
        "threshold": 0.4,
        "weights": {"file": "model.safetensors", "sha256": "a" * 64},
        "note": "kept",
    }
    d.update(over)
    return d


def test_a_card_round_trips_with_unknown_keys_and_its_head_by_its_current_name():
    card = Card.from_dict(_card(head="zones"))
    assert card.image_size == 128 and card.channels == 1 and card.head == "grid" and card.to_dict()["note"] == "kept"
    assert canonical_head("zones") == "grid"
    with pytest.raises(ValueError):
        canonical_head("nonsense")


@pytest.mark.parametrize(
    "over",
    [
        {"temperature": -1.0},
        {"threshold": 2.0},
        {"backbone": "../x"},
        {"preprocess": {"image_size": 0, "channels": 1}},
        {"weights": {"file": "../w.safetensors", "sha256": "a" * 64}},
    ],
)
def test_a_bad_field_is_a_bundle_error(over):
    with pytest.raises(BundleError):
        Card.from_dict(_card(**over))


def test_domains_and_file_records():
    assert training_domain({"domain": "mixed"}) == "mixed"
    assert training_domain({"description": "phantoms with heavy augmentation"}) == "synthetic"
    assert training_domain({"description": "PadChest"}) == "real"
    with pytest.raises(BundleError):
        check_file_record({"file": "m.onnx", "sha256": "xyz"}, ".onnx", "onnx", "card.json")
