"""``cxr-miliary score``: one row per input, exit codes, output formats and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_miliary.cli.main import main


def test_errors_are_rows_and_exit_1(tiny_bundle, messy_folder, tmp_path):
    out = tmp_path / "scores.csv"
    code = main(["--quiet", "score", str(messy_folder), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "2", "--batch-size", "3"])
    assert code == 1
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 10 and df["path"].is_unique
    by_name = {Path(p).name: e for p, e in zip(df["path"], df["error"], strict=False)}
    for name, code_ in EXPECTED.items():
        assert by_name[name].startswith(code_), (name, by_name[name])
    assert by_name["noext"] == "" and sum(e == "" for e in by_name.values()) == 5
    ok = df[df["error"] == ""]
    assert ok["probability"].astype(float).between(0, 1).all()
    assert (df["model_sha256"].str.len() == 64).all()
    assert not list(tmp_path.glob("*.journal.jsonl"))


def test_cam_dir_names_unique_inside_and_identifier_free(tiny_bundle, phantom_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b" / "nested"
    a.mkdir(), b.mkdir(parents=True)
    src = phantom_dir / "images" / "ph0021_000001.dcm"
    (a / "same.dcm").write_bytes(src.read_bytes())
    (b / "same.dcm").write_bytes(src.read_bytes())
    cam_dir = tmp_path / "cams"
    out = tmp_path / "s.parquet"
    weird = str(tmp_path / "b" / ".." / "a" / "same.dcm")
    assert (
        main(
            ["--quiet", "score", str(a), str(b), weird, "--weights", str(tiny_bundle), "--out", str(out), "--cam-dir", str(cam_dir), "--workers", "0"]
        )
        == 0
    )
    df = pd.read_parquet(out)
    assert len(df) == 3 and df["cam_path"].is_unique
    for cam_path in df["cam_path"]:
        path = Path(cam_path).resolve()
        assert path.parent == cam_dir.resolve()
        arr = np.load(path, allow_pickle=False)
        assert arr.shape == (256, 256) and arr.min() >= 0 and arr.max() <= 1
        assert "PH0021" not in path.name and "PHANTOM" not in path.name
    assert df["pattern"].notna().all()


def test_outputs_jsonl_and_model_mix_refused(tiny_bundle, phantom_dir, tmp_path):
    out = tmp_path / "s.jsonl"
    img = str(phantom_dir / "images" / "ph0021_000002.png")
    assert main(["--quiet", "score", img, "--weights", str(tiny_bundle), "--out", str(out), "--workers", "0"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["error"] == ""
    card = json.loads((tiny_bundle / "card.json").read_text())
    rows[0]["model_sha256"] = "0" * 64
    out.write_text(json.dumps(rows[0]) + "\n")
    assert main(["--quiet", "score", img, "--weights", str(tiny_bundle), "--out", str(out), "--resume"]) == 2
    assert card["weights"]["sha256"] != "0" * 64


EXPECTED = {"zero.dcm": "empty-file", "truncated.dcm": "truncated", "notes.png": "not-an-image", "ct.dcm": "modality", "colour.png": "colour"}
