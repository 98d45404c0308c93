"""Model bundles: safetensors + card, sha256 verified, pickle refused, local pretrained weights."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest
import timm
import torch
from safetensors.torch import save_file

from cxr_miliary.models import BundleError, cam_target_layer, create_model, load_bundle, save_bundle


def _card():
    return {"backbone": "test_resnet", "preprocess": {"image_size": 64, "channels": 1, "mean": 0.5, "std": 0.25}}


def test_roundtrip_exact_logits(tmp_path):
    torch.manual_seed(0)
    model = create_model("test_resnet", in_chans=1).eval()
    save_bundle(model, tmp_path / "b", _card())
    loaded, card = load_bundle(tmp_path / "b")
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert card["weights"]["sha256"] and card["format_version"] == 1


def test_tampered_weights_refused(tmp_path):
    save_bundle(create_model("test_resnet"), tmp_path / "b", _card())
    weights = tmp_path / "b" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(tmp_path / "b")


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('EVIL_MARKER', '/tmp/evil_marker')}",))


def test_pickle_files_refused_outright(tmp_path):
    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(evil)
    folder = tmp_path / "only_pickle"
    folder.mkdir()
    (folder / "weights.pth").write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(BundleError, match="refused"):
        load_bundle(folder)


def test_crafted_checkpoint_never_runs_code_even_with_force_env(tmp_path):
    """load_checkpoint passes weights_only=True explicitly; the override variable must not defeat it."""
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.ckpt"
    code = (
        "import os, pickle, sys\n"
        "class E:\n"
        f"    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
        f"import torch; torch.save({{'state_dict': E()}}, '{ckpt}')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    probe = (
        "from cxr_miliary.training.bundle_export import load_checkpoint\n"
        f"try:\n    load_checkpoint('{ckpt}')\nexcept ValueError as e:\n    print('refused', e)\n"
    )
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert "refused" in out.stdout, out.stdout + out.stderr
    assert not marker.exists()


def test_local_pretrained_file_adapts_stem_like_timm(tmp_path):
    torch.manual_seed(1)
    rgb = timm.create_model("test_resnet", num_classes=1000)
    path = tmp_path / "test_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in rgb.state_dict().items()}, str(path))
    grey = create_model("test_resnet", pretrained_file=path, in_chans=1)
    stem = rgb.state_dict()["conv1.0.weight"] if "conv1.0.weight" in rgb.state_dict() else rgb.state_dict()["conv1.weight"]
    key = "conv1.0.weight" if "conv1.0.weight" in grey.state_dict() else "conv1.weight"
    torch.testing.assert_close(grey.state_dict()[key], stem.sum(dim=1, keepdim=True))
    assert grey.get_classifier().out_features == 1
    with pytest.raises(FileNotFoundError):
        create_model("test_resnet", pretrained_file=tmp_path / "missing.safetensors")


def test_cam_target_layer_is_a_real_module():
    for name in ("test_resnet", "test_efficientnet", "test_convnext"):
        m = create_model(name)
        assert m.get_submodule(cam_target_layer(m)) is not None


def test_card_must_be_json(tmp_path):
    save_bundle(create_model("test_resnet"), tmp_path / "b", _card())
    (tmp_path / "b" / "card.json").write_text("{not json")
    with pytest.raises(BundleError, match="JSON"):
        load_bundle(tmp_path / "b")
    assert json.loads(json.dumps(_card()))
