"""``cxr-miliary manifest``: build, summarise, refuse what cannot be read."""

from __future__ import annotations

import pandas as pd

from cxr_miliary.cli.main import main


def test_cli_manifest_summary(padchest_csv, tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["manifest", "padchest", "--labels", str(padchest_csv), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dropped 1: no parseable labels" in text and "positives" in text
    assert pd.read_csv(out).shape[0] == 6
    assert main(["manifest", "padchest", "--labels", str(tmp_path / "nope.csv"), "--out", str(out)]) == 2


def test_cli_manifest_lung_sources(tmp_path, capsys):
    from cxr_miliary.phantom import generate_phantoms

    man = generate_phantoms(3, tmp_path / "ph", seed=5, size=128)
    out = tmp_path / "lungs.csv"
    assert main(["manifest", "phantom-lungs", "--phantoms", str(man), "--out", str(out)]) == 0
    assert "3 images with lung masks" in capsys.readouterr().out
    assert set(pd.read_csv(out).columns) >= {"path", "mask", "split", "source"}
    (tmp_path / "empty" / "CXR_png").mkdir(parents=True)
    assert main(["manifest", "montgomery", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "m.csv")]) == 2
    assert "no image with both lung masks" in capsys.readouterr().err
    neg = tmp_path / "neg" / "negatives.csv"
    assert main(["manifest", "lung-negatives", "--n", "4", "--size", "96", "--seed", "3", "--out", str(neg)]) == 0
    assert "4 pictures with no lung" in capsys.readouterr().out
    rows = pd.read_csv(neg, dtype=str, keep_default_na=False)
    assert (rows["source"] == "negative").all() and (rows["mask"] == "").all()
    assert all((tmp_path / "neg" / "negatives").joinpath(p.split("/")[-1]).is_file() for p in rows["path"])  # written beside --out
