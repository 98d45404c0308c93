"""``cxr-miliary phantom``: a set with a contact sheet; bad arguments exit 2."""

from __future__ import annotations

import pytest

from cxr_miliary.cli.main import main


def test_cli_phantom_with_contact_sheet(tmp_path, capsys):
    code = main(["--quiet", "phantom", "--n", "2", "--out", str(tmp_path), "--size", "128", "--format", "dcm", "--contact-sheet"])
    assert code == 0
    assert (tmp_path / "contact_sheet.png").exists() and len(list((tmp_path / "images").glob("*.dcm"))) == 2
    assert main(["phantom", "--n", "1", "--out", str(tmp_path), "--format", "gif"]) == 2
    assert "error: " in capsys.readouterr().err


def test_the_condition_help_names_every_condition(capsys):
    from cxr_miliary.phantom.conditions import CONDITIONS

    with pytest.raises(SystemExit):
        main(["phantom", "--help"])
    out = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # argparse wraps long names at their hyphens
    assert all(name in out for name in (*CONDITIONS, "lung-mix")), out


def test_cli_phantom_tight_framing_is_recorded_in_the_manifest(tmp_path, capsys):
    import pandas as pd

    assert main(["--quiet", "phantom", "--n", "2", "--out", str(tmp_path / "t"), "--size", "128", "--framing", "tight"]) == 0
    assert main(["--quiet", "phantom", "--n", "2", "--out", str(tmp_path / "p"), "--size", "128"]) == 0
    tight, plain = (pd.read_csv(tmp_path / d / "manifest.csv") for d in ("t", "p"))
    assert list(tight["framing"]) == ["tight", "tight"] and (tight["framing_scale"] > 1.0).all() and "framing" not in plain
    assert (tight["pixel_spacing_mm"] < plain["pixel_spacing_mm"]).all()  # the same patients on a smaller field
    with pytest.raises(SystemExit) as exit_:
        main(["phantom", "--n", "1", "--out", str(tmp_path / "x"), "--framing", "snug"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err
