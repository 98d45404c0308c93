"""A small lung bundle the model tests share (a fresh network, its ONNX export)."""

from __future__ import annotations

import pytest
import torch

from cxr_miliary.models.lung_bundle import save_lung_bundle
from cxr_miliary.models.lung_model import create_lung_model


@pytest.fixture(scope="session")
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
