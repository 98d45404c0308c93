"""The lung network: three classes by side, and the orientation head."""

from __future__ import annotations

import pytest
import torch

from cxr_miliary.models.lung_model import CLASSES, ORIENTATIONS, create_lung_model, normalise, split_outputs

pytest.importorskip("segmentation_models_pytorch")


def test_three_classes_per_pixel_and_four_orientations():
    torch.manual_seed(0)
    net = create_lung_model().eval()
    with torch.no_grad():
        seg, orient = split_outputs(net(torch.zeros(2, 1, 64, 64)))
    assert seg.shape == (2, len(CLASSES), 64, 64) and orient.shape == (2, len(ORIENTATIONS))
    without = create_lung_model(orientation=False).eval()
    with torch.no_grad():
        seg, orient = split_outputs(without(torch.zeros(1, 1, 64, 64)))
    assert orient is None and seg.shape[1] == 3
    x = normalise(torch.ones(4, 4).numpy())
    assert x.shape == (1, 1, 4, 4) and float(x.max()) == 2.0
