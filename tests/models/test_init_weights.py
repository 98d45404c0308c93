"""Starting weights (``model.init_from``): parsing, the card record, TorchXRayVision mapped onto timm."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from cxr_miliary.models import create_model
from cxr_miliary.models.init_weights import TXV_MEAN, TXV_STD, parse, record


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, ("none", "")),
        ("hub", ("hub", "")),
        ("hub:a1_in1k", ("hub", "a1_in1k")),
        ("torchxrayvision:densenet121-res224-all", ("torchxrayvision", "densenet121-res224-all")),
        ("/w/start.safetensors", ("file", "/w/start.safetensors")),
    ],
)
def test_parse(spec, expected):
    assert parse(spec) == expected


def test_parse_refuses_pickles():
    with pytest.raises(ValueError, match="init_from must be"):
        parse("/w/start.pth")


def test_record_names_source_and_input():
    rec = record("torchxrayvision", "densenet121-res224-all", "densenet121")
    assert rec["source"] == "TorchXRayVision densenet121-res224-all"
    assert rec["input"]["mean"] == TXV_MEAN and rec["input"]["std"] == TXV_STD and rec["input"]["channels"] == 1
    assert record("none", "", "resnet18")["source"] == "random initialisation"


def test_torchxrayvision_features_map_onto_timm_densenet(tmp_path):
    """TorchXRayVision's DenseNet (random weights, offline) saved, loaded into timm: same features."""
    xrv = pytest.importorskip("torchxrayvision")
    torch.manual_seed(0)
    txv = xrv.models.DenseNet(weights=None).eval()
    for m in txv.modules():  # non-trivial running statistics, so a missed BN buffer shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = tmp_path / "txv_state.safetensors"
    save_file({k: v.contiguous() for k, v in txv.state_dict().items()}, str(state))
    ours = create_model("densenet121", in_chans=1, init_from=f"torchxrayvision:{state}").eval()
    x = torch.randn(2, 1, 64, 64) * 400.0  # TorchXRayVision's [-1024, 1024] scale
    with torch.no_grad():
        expected = torch.relu(txv.features(x))
        got = ours.forward_features(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-5), (got - expected).abs().max()


def test_torchxrayvision_needs_densenet121_one_channel(tmp_path):
    pytest.importorskip("torchxrayvision")
    with pytest.raises(ValueError, match="densenet121 with in_chans 1"):
        create_model("test_resnet", in_chans=1, init_from="torchxrayvision:/nope.safetensors")
