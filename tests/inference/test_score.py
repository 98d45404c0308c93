"""Batch scoring: one row per input, errors as rows, crash-safe resume, CAM files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_factory import make_dicom, ramp
from PIL import Image

from cxr_miliary import Predictor
from cxr_miliary.cli.main import main


@pytest.fixture
def messy_folder(tmp_path, phantom_dir):
    d = tmp_path / "archive"
    (d / "sub").mkdir(parents=True)
    for f in sorted((phantom_dir / "images").glob("*"))[:4]:
        (d / f.name).write_bytes(f.read_bytes())
    (d / "zero.dcm").write_bytes(b"")
    good = (phantom_dir / "images" / "ph0021_000000.dcm").read_bytes()
    (d / "truncated.dcm").write_bytes(good[: len(good) // 3])
    (d / "notes.png").write_text("not an image at all\n" * 20)
    make_dicom(d / "sub" / "ct.dcm", ramp(rows=64, cols=64), modality="CT")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(d / "colour.png")
    (d / "sub" / "noext").write_bytes(good)  # DICOM recognised by content
    return d


EXPECTED = {"zero.dcm": "empty-file", "truncated.dcm": "corrupt", "notes.png": "not-an-image", "ct.dcm": "modality", "colour.png": "colour"}


def test_errors_are_rows_and_exit_1(tiny_bundle, messy_folder, tmp_path):
    out = tmp_path / "scores.csv"
    code = main(["--quiet", "score", str(messy_folder), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "2", "--batch-size", "3"])
    assert code == 1
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 10 and df["path"].is_unique
    by_name = {Path(p).name: e for p, e in zip(df["path"], df["error"])}
    for name, code_ in EXPECTED.items():
        assert by_name[name].startswith(code_), (name, by_name[name])
    assert by_name["noext"] == "" and sum(e == "" for e in by_name.values()) == 5
    ok = df[df["error"] == ""]
    assert ok["probability"].astype(float).between(0, 1).all()
    assert (df["model_sha256"].str.len() == 64).all()
    assert not list(tmp_path.glob("*.journal.jsonl"))


def test_python_api_dataframe_and_stream(tiny_bundle, messy_folder):
    p = Predictor.load(tiny_bundle)
    df = p.score([messy_folder], batch_size=4, num_workers=0)
    assert len(df) == 10 and set(df.columns) >= {"path", "probability", "positive", "error"}
    rows = list(p.iter_score([messy_folder], batch_size=4, num_workers=0))
    assert len(rows) == 10
    clean = Predictor.load(tiny_bundle).predict(messy_folder / "ph0021_000000.dcm", cam=False)
    row = df[df["path"].str.endswith("ph0021_000000.dcm")].iloc[0]
    assert row["probability"] == pytest.approx(clean.probability, abs=1e-6)


def test_cam_dir_names_unique_inside_and_identifier_free(tiny_bundle, phantom_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b" / "nested"
    a.mkdir(), b.mkdir(parents=True)
    src = phantom_dir / "images" / "ph0021_000001.dcm"
    (a / "same.dcm").write_bytes(src.read_bytes())
    (b / "same.dcm").write_bytes(src.read_bytes())
    cam_dir = tmp_path / "cams"
    out = tmp_path / "s.parquet"
    weird = str(tmp_path / "b" / ".." / "a" / "same.dcm")
    assert main(["--quiet", "score", str(a), str(b), weird, "--weights", str(tiny_bundle), "--out", str(out), "--cam-dir", str(cam_dir), "--workers", "0"]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 3 and df["cam_path"].is_unique
    for cam_path in df["cam_path"]:
        path = Path(cam_path).resolve()
        assert path.parent == cam_dir.resolve()
        arr = np.load(path, allow_pickle=False)
        assert arr.shape == (256, 256) and 0 <= arr.min() and arr.max() <= 1
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


def test_list_files(tiny_bundle, phantom_dir, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(str(p) for p in sorted((phantom_dir / "images").glob("*.png"))) + "\n# comment\n")
    csv_list = tmp_path / "list.csv"
    pd.DataFrame({"path": [str(p) for p in sorted((phantom_dir / "images").glob("*.dcm"))], "other": 1}).to_csv(csv_list, index=False)
    df = Predictor.load(tiny_bundle).score([lst, csv_list], num_workers=0)
    assert len(df) == 8 and df["error"].eq("").all()


def test_worker_segfault_costs_one_error_row(tiny_bundle, phantom_dir, tmp_path, monkeypatch):
    import cxr_miliary.inference.batch as batch

    real = batch.load_image

    def crashing(path, **kw):
        if "boom" in str(path):
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(path, **kw)

    monkeypatch.setattr(batch, "load_image", crashing)
    d = tmp_path / "d"
    d.mkdir()
    for i, f in enumerate(sorted((phantom_dir / "images").glob("*.png"))):
        (d / f"{i}_{f.name}").write_bytes(f.read_bytes())
    (d / "2_boom.png").write_bytes((phantom_dir / "images" / "ph0021_000000.png").read_bytes())
    rows = list(Predictor.load(tiny_bundle).iter_score([d], batch_size=2, num_workers=2))
    assert len(rows) == 5 and len({r["path"] for r in rows}) == 5
    boom = [r for r in rows if "boom" in r["path"]][0]
    assert boom["error"].startswith("decoder-crashed")
    assert sum(1 for r in rows if r["error"]) == 1


@pytest.mark.slow
def test_sigkill_and_resume_one_row_per_input(tiny_bundle, phantom_dir, tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    src = sorted((phantom_dir / "images").glob("*.png"))
    for i in range(40):
        (d / f"img{i:03d}.png").write_bytes(src[i % len(src)].read_bytes())
    out = tmp_path / "scores.csv"
    cmd = [sys.executable, "-m", "cxr_miliary", "--quiet", "score", str(d), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "1", "--batch-size", "2"]
    for delay in (2.5, 1.0):
        proc = subprocess.Popen(cmd + (["--resume"] if delay != 2.5 else []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if out.exists():
            pd.read_csv(out)  # never a torn output file
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 40 and df["path"].is_unique and set(Path(p).name for p in df["path"]) == {f"img{i:03d}.png" for i in range(40)}
