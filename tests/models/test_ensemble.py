"""A fold ensemble is one network: the mean of its members' logits, one CAM layer, the closed-form head gradient, a bundle."""

from __future__ import annotations

import pytest
import torch

from cxr_miliary.models import create_model, load_bundle, save_bundle
from cxr_miliary.models.ensemble import FoldEnsemble
from cxr_miliary.models.head_gradient import check_separable


@pytest.mark.parametrize("head", ["global", "grid"])
def test_an_ensemble_is_the_mean_of_its_members_and_saves_as_a_bundle(head, tmp_path):
    torch.manual_seed(0)
    members = [create_model("test_resnet", in_chans=1, head=head).eval() for _ in range(3)]
    ens = FoldEnsemble(members).eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        want = torch.stack([m(x).reshape(2, -1) for m in members]).mean(0)
        assert torch.allclose(ens(x), want, atol=1e-6)
    sep = check_separable(ens, "features", 64, 1)
    assert sep["separable"] and sep["gradient"] == "explicit"  # maps from one forward pass, as for one model
    card = {"name": "e", "backbone": "test_resnet", "head": head, "preprocess": {"image_size": 64, "channels": 1, "mean": 0.5, "std": 0.25},
            "cam_target_layer": "features", "temperature": 1.0, "threshold": 0.5, "ensemble": {"members": 3}}  # fmt: skip
    back, _ = load_bundle(save_bundle(ens, tmp_path / "b", card))
    with torch.no_grad():
        assert torch.allclose(back(x), want, atol=1e-6)


def test_an_ensemble_of_one_is_refused():
    with pytest.raises(ValueError):
        FoldEnsemble([create_model("test_resnet", in_chans=1)])
