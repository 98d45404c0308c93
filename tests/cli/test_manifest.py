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
