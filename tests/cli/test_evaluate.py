"""``cxr-miliary evaluate``: headline figures, and a clear refusal when no image can be read."""

from __future__ import annotations

import json

import pandas as pd

from cxr_miliary.cli.main import main


def test_evaluate_prints_auroc_and_writes_the_report(tiny_bundle, phantom_dir, tmp_path, capsys):
    assert (
        main(
            [
                "--quiet",
                "evaluate",
                "--manifest",
                str(phantom_dir / "manifest.csv"),
                "--weights",
                str(tiny_bundle),
                "--out",
                str(tmp_path / "e"),
                "--workers",
                "0",
                "--bootstrap",
                "20",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("n=4 ") and "AUROC" in out and (tmp_path / "e" / "report.html").exists()
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["n"] == 4


def test_all_images_missing_is_a_clear_error(tiny_bundle, phantom_dir, tmp_path, capsys):
    man = pd.read_csv(phantom_dir / "manifest.csv")
    moved = tmp_path / "elsewhere" / "manifest.csv"
    moved.parent.mkdir()
    man.to_csv(moved, index=False)
    code = main(["--quiet", "evaluate", "--manifest", str(moved), "--weights", str(tiny_bundle), "--out", str(tmp_path / "e"), "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "no image in the manifest could be read (4 not-found" in err and "--images-root" in err
    assert "zero-size array" not in err
