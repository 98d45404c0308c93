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
