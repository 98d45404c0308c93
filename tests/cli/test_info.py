"""``cxr-miliary info`` and the CLI's error contract, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from dicom_factory import CANARY, make_dicom, ramp

from cxr_miliary.cli.main import main


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cxr_miliary", *args], capture_output=True, text=True, timeout=120)


def test_info_prints_json_without_phi(tmp_path):
    path = make_dicom(tmp_path / "a.dcm", ramp(), windows=[(2048, 4096)], invalid_phi=True)
    res = _cli("info", str(path))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["rows"] == 32 and out["columns"] == 48 and out["modality"] == "DX" and out["view"] == "PA"
    assert out["pixel_spacing_mm"] == [0.143, 0.143] and out["voi"] == "window"
    assert 0 <= out["pixel_stats"]["min"] < out["pixel_stats"]["max"] <= 1
    assert CANARY not in res.stdout + res.stderr


def test_info_rejected_exit_2_one_error_line(tmp_path):
    path = make_dicom(tmp_path / "ct.dcm", ramp(), modality="CT")
    res = _cli("info", str(path))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("error: ") and "modality CT" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert _cli("info", "--force", str(path)).returncode == 0


def test_unreadable_and_usage_errors(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_text("hello")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "x.png" in err
    with pytest.raises(SystemExit) as exc:
        main(["info"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_version_and_help():
    res = _cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("cxr-miliary ")
    res = _cli("--help")
    assert res.returncode == 0 and "info" in res.stdout
