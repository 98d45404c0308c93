"""``cxr-miliary demo``: the whole product on phantoms, no data needed."""

from __future__ import annotations

from cxr_miliary import Predictor
from cxr_miliary.cli.main import main


def test_demo_runs_end_to_end(tiny_bundle, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CXR_MILIARY_WEIGHTS", str(tiny_bundle))
    assert main(["--quiet", "demo", "--out", str(tmp_path / "demo"), "--n", "8", "--size", "256", "--workers", "0"]) == 0
    text = capsys.readouterr().out
    assert "AUROC" in text and "report.html" in text
    assert (tmp_path / "demo" / "report.html").exists() and (tmp_path / "demo" / "example_prediction.json").exists()
    assert len(list((tmp_path / "demo" / "cams").glob("*.jpg"))) == 8
    assert Predictor.from_pretrained().model_info["name"] == "tiny-test"
