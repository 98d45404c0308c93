"""Batch scoring: one row per input, errors as rows, crash-safe resume, CAM files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cxr_miliary import Predictor


def test_python_api_dataframe_and_stream(tiny_bundle, messy_folder):
    p = Predictor.load(tiny_bundle)
    df = p.score([messy_folder], batch_size=4, num_workers=0)
    assert len(df) == 10 and set(df.columns) >= {"path", "probability", "positive", "error"}
    rows = list(p.iter_score([messy_folder], batch_size=4, num_workers=0))
    assert len(rows) == 10
    clean = Predictor.load(tiny_bundle).predict(messy_folder / "ph0021_000000.dcm", cam=False)
    row = df[df["path"].str.endswith("ph0021_000000.dcm")].iloc[0]
    assert row["probability"] == pytest.approx(clean.probability, abs=1e-6)


def test_list_files(tiny_bundle, phantom_dir, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(str(p) for p in sorted((phantom_dir / "images").glob("*.png"))) + "\n# comment\n")
    csv_list = tmp_path / "list.csv"
    pd.DataFrame({"path": [str(p) for p in sorted((phantom_dir / "images").glob("*.dcm"))], "other": 1}).to_csv(csv_list, index=False)
    df = Predictor.load(tiny_bundle).score([lst, csv_list], num_workers=0)
    assert len(df) == 8 and df["error"].eq("").all()


def test_worker_segfault_costs_one_error_row(tiny_bundle, phantom_dir, tmp_path, monkeypatch):
    import cxr_miliary.inference.decoding as decoding

    real = decoding.load_image

    def crashing(path, **kw):
        if "boom" in str(path):
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(path, **kw)

    monkeypatch.setattr(decoding, "load_image", crashing)
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
    cmd = [
        sys.executable,
        "-m",
        "cxr_miliary",
        "--quiet",
        "score",
        str(d),
        "--weights",
        str(tiny_bundle),
        "--out",
        str(out),
        "--workers",
        "1",
        "--batch-size",
        "2",
    ]
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
