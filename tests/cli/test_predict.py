"""``cxr-miliary predict``: outputs, errors, formats; nothing partial left behind."""

from __future__ import annotations

import json

import pytest
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


def _strict(text):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def test_output_paths_and_arguments_are_checked_first(tiny_bundle, phantom_dir, tmp_path, capsys):
    img = str(phantom_dir / "images" / "ph0021_000000.dcm")
    (tmp_path / "dir").mkdir()
    cases = [
        (["--json", str(tmp_path / "dir")], "--json must be a file name"),
        (["--cam", str(tmp_path / "dir"), "--dicom-out", str(tmp_path / "d")], "--cam must be a file name"),
        (["--threads", "-1"], "must be at least 1"),
        (["--threshold", "nan"], "must be a number from 0 to 1"),
        (["--threshold", "1.5"], "must be a number from 0 to 1"),
    ]
    for extra, needle in cases:
        with pytest.raises(SystemExit) if extra[0] in ("--threads", "--threshold") else _no_raise():
            code = main(["predict", img, "--weights", str(tiny_bundle), *extra])
            assert code == 2
        assert needle in capsys.readouterr().err, extra
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"] and not list((tmp_path / "dir").iterdir())


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_names_the_system_refuses_are_exit_2(tiny_bundle, tmp_path, capsys):
    long_name = str(tmp_path / ("z" * 300 + ".dcm"))
    loop = tmp_path / "loop.dcm"
    loop.symlink_to(loop)
    for path, needle in ((long_name, "longer than the file system allows"), (str(loop), "symbolic link loop")):
        assert main(["predict", path, "--weights", str(tiny_bundle)]) == 2
        assert main(["info", path]) == 2
        err = capsys.readouterr().err
        assert err.count(needle) == 2 and "Traceback" not in err


def test_every_json_the_cli_writes_is_strict(tiny_bundle, phantom_dir, tmp_path, capsys):
    img = str(phantom_dir / "images" / "ph0021_000000.dcm")
    assert main(["predict", img, "--weights", str(tiny_bundle), "--json", str(tmp_path / "p.json")]) == 0
    _strict(capsys.readouterr().out)
    _strict((tmp_path / "p.json").read_text())
    assert main(["info", img]) == 0
    _strict(capsys.readouterr().out)
    assert (
        main(["--quiet", "score", str(phantom_dir / "images"), "--weights", str(tiny_bundle), "--out", str(tmp_path / "s.jsonl"), "--workers", "0"])
        == 0
    )
    for line in (tmp_path / "s.jsonl").read_text().splitlines():
        _strict(line)
    # one class only: AUROC is undefined (NaN inside), the file must still be strict JSON
    man = tmp_path / "one.csv"
    man.write_text("path,label\n" + "\n".join(f"{p},0" for p in sorted(str(x) for x in (phantom_dir / "images").glob("*.png"))) + "\n")
    assert (
        main(
            [
                "--quiet",
                "evaluate",
                "--manifest",
                str(man),
                "--weights",
                str(tiny_bundle),
                "--out",
                str(tmp_path / "e"),
                "--workers",
                "0",
                "--bootstrap",
                "10",
            ]
        )
        == 0
    )
    capsys.readouterr()
    metrics = _strict((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["metrics"]["auroc"]["value"] is None


def test_a_cold_predict_imports_neither_pandas_nor_matplotlib(tiny_bundle, phantom_dir, tmp_path):
    """Cold start: predict without a map file needs neither (they cost 0.3 s of a 1 s run)."""
    import subprocess
    import sys

    film = phantom_dir / "images" / "ph0021_000000.dcm"
    code = (
        "import sys; from cxr_miliary.cli.main import main; "
        f"rc = main(['--quiet', 'predict', {str(film)!r}, '--weights', {str(tiny_bundle)!r}, '--no-cam', '--json', {str(tmp_path / 'p.json')!r}]); "
        "print(rc, sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr[-2000:]
