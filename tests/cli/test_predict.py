"""``cxr-miliary predict``: outputs, errors, formats; nothing partial left behind."""

from __future__ import annotations

import json

import torch

from cxr_miliary.cli.main import main


def test_cli_predict_outputs_and_errors(tiny_bundle, phantom_dir, tmp_path, capsys):
    img = phantom_dir / "images" / "ph0021_000003.dcm"
    overlay, js = tmp_path / "o.png", tmp_path / "o.json"
    assert main(["predict", str(img), "--weights", str(tiny_bundle), "--cam", str(overlay), "--json", str(js)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(js.read_text()) == printed and overlay.stat().st_size > 1000
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"")
    assert main(["predict", str(bad), "--weights", str(tiny_bundle), "--cam", str(tmp_path / "x.png"), "--json", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.dcm" in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.json").exists()
    assert main(["predict", str(img), "--weights", str(tmp_path)]) == 2
    assert main(["predict", str(img), "--weights", str(tiny_bundle), "--format", "text", "--no-cam"]) == 0
    assert "not a diagnosis" in capsys.readouterr().out
    torch.set_num_threads(1)
