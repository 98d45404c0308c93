"""Grad-CAM through the maintained library: raw maps, hooks released, back onto the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxr_miliary.explain.cam import METHODS, absolute_map, raw_cam, to_image
from cxr_miliary.models import create_model


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return create_model("test_resnet").eval()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_gives_a_raw_nonnegative_map_and_releases_hooks(net, method):
    x = torch.rand(2, 1, 64, 64)
    maps = raw_cam(net, net.get_submodule("layer4"), x, method)
    assert maps.shape[0] == 2 and maps.ndim == 3 and (maps >= 0).all() and np.isfinite(maps).all()
    assert not any(m._forward_hooks or m._backward_hooks for m in net.modules())
    assert all(p.requires_grad for p in net.parameters())  # the freeze for the call was undone


def test_unknown_method_refused(net):
    with pytest.raises(ValueError):
        raw_cam(net, net.get_submodule("layer4"), torch.rand(1, 1, 32, 32), "banana")


def test_to_image_undoes_the_letterbox():
    cam = np.zeros((8, 8), np.float32)
    cam[:, :4] = 1.0  # left half of the square input
    out = to_image(cam, 64, (64, 32))  # a tall image occupies the middle half of the input's width
    assert out.shape == (64, 32)
    assert out[:, :4].mean() > 0.9 and out[:, -4:].mean() < 0.1


def test_absolute_map_keeps_shape_times_probability():
    raw = np.linspace(0, 2, 100, dtype=np.float32).reshape(10, 10)
    out = absolute_map(raw, 0.4, None)
    assert out.max() == pytest.approx(0.4) and np.allclose(out, raw / 2 * 0.4)
    assert not absolute_map(np.zeros((4, 4), np.float32), 0.9, None).any()
