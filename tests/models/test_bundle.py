"""Model bundles: safetensors + card, sha256 verified, pickle refused, local pretrained weights."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import struct
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


def _rewrite(bundle, **card_changes):
    card = json.loads((bundle / "card.json").read_text())
    for key, value in card_changes.items():
        node, *path = key.split("__")
        if path:
            card[node][path[0]] = value
        else:
            card[node] = value
    (bundle / "card.json").write_text(json.dumps(card))
    return bundle


def _resign(bundle):
    card = json.loads((bundle / "card.json").read_text())
    card["weights"]["sha256"] = hashlib.sha256((bundle / card["weights"]["file"]).read_bytes()).hexdigest()
    (bundle / "card.json").write_text(json.dumps(card))


CRAFTED = {
    "pickle named safetensors": lambda b: ((b / "model.safetensors").write_bytes(pickle.dumps({"w": 1})), _resign(b)),
    "huge tensor in the header": lambda b: (_header(b, {"w": {"dtype": "F32", "shape": [1 << 40], "data_offsets": [0, 1 << 42]}}), _resign(b)),
    "header length 2^62": lambda b: ((b / "model.safetensors").write_bytes(struct.pack("<Q", 1 << 62) + b"{}"), _resign(b)),
    "unknown backbone": lambda b: _rewrite(b, backbone="no_such_net_v9"),
    "hub backbone name": lambda b: _rewrite(b, backbone="hf-hub:someone/model"),
    "giant backbone": lambda b: _rewrite(b, backbone="vit_giant_patch14_224"),
    "unknown head": lambda b: _rewrite(b, head="patches"),
    "wrong JSON types": lambda b: _rewrite(b, preprocess="512"),
    "deeply nested card": lambda b: (b / "card.json").write_text("[" * 100_000 + "]" * 100_000),
    "image_size 0": lambda b: _rewrite(b, preprocess__image_size=0),
    "image_size 10^6": lambda b: _rewrite(b, preprocess__image_size=1_000_000),
    "threshold -1": lambda b: _rewrite(b, threshold=-1),
    "threshold 2": lambda b: _rewrite(b, threshold=2),
    "temperature 0": lambda b: _rewrite(b, temperature=0),
    "temperature negative": lambda b: _rewrite(b, temperature=-1.5),
    "temperature NaN": lambda b: (b / "card.json").write_text((b / "card.json").read_text().replace('"temperature": 1.5', '"temperature": NaN')),
    "temperature inf": lambda b: (b / "card.json").write_text((b / "card.json").read_text().replace('"temperature": 1.5', '"temperature": Infinity')),
    "bogus CAM layer": lambda b: _rewrite(b, cam_target_layer="layer99.conv"),
    "weights outside the bundle": lambda b: _rewrite(b, weights__file="../model.safetensors"),
    "absolute weights path": lambda b: _rewrite(b, weights__file="/etc/passwd"),
    "onnx outside the bundle": lambda b: _rewrite(b, onnx={"file": "../x.onnx", "sha256": "0" * 64}),
    "sha256 not hex": lambda b: _rewrite(b, weights__sha256="zz"),
}


def _header(bundle, header):
    raw = json.dumps(header).encode()
    (bundle / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 64)


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_bundles_are_clear_refusals(tiny_bundle, phantom_dir, tmp_path, name, capsys):
    import time

    from cxr_miliary.cli.main import main

    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    CRAFTED[name](bundle)
    t = time.perf_counter()
    with pytest.raises(BundleError):
        load_bundle(bundle)
    assert time.perf_counter() - t < 5, "refused only after allocating"
    image = phantom_dir / "images" / "ph0021_000000.png"
    assert main(["predict", str(image), "--weights", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and str(bundle) in err


def test_the_card_says_what_the_model_was_trained_on(tiny_bundle, tmp_path):
    from cxr_miliary.models import load_card, update_card
    from cxr_miliary.models.locate import find_default_bundle

    assert load_card(find_default_bundle()).domain == "synthetic"  # the shipped phantom model, however old its card
    assert load_card(tiny_bundle).domain == "real"  # no record, no phantoms in its description
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    assert update_card(bundle, training_data={"description": "synthetic phantoms (cxr-miliary phantom)"}).domain == "synthetic"
    assert update_card(bundle, training_data={"description": "phantoms and PadChest", "domain": "mixed"}).domain == "mixed"
    with pytest.raises(BundleError, match="domain"):
        update_card(bundle, training_data={"domain": "imaginary"})
