"""``cxr-miliary score``: one row per input, exit codes, output formats and files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cxr_miliary.cli.main import main
from cxr_miliary.explain import load_map
from cxr_miliary.scoring.table import read_output


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
        arr = load_map(path)  # the compact map, read back at the image's size
        assert path.suffix == ".npz" and arr.shape == (256, 256) and arr.min() >= 0 and arr.max() <= 1
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


def test_a_second_run_to_the_same_output_is_refused(tiny_bundle, phantom_dir, tmp_path, capsys):
    import subprocess
    import sys

    out = tmp_path / "s.csv"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import time; from pathlib import Path\n"
                "from cxr_miliary.scoring.journal import Journal\n"
                f"j = Journal(Path({str(out)!r})); print('locked', flush=True); time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(["score", str(phantom_dir / "images"), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "0", "--quiet"])
        assert code == 2 and "another 'score' run is writing to this output" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert main(["--quiet", "score", str(phantom_dir / "images"), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "0"]) == 0
    assert len(pd.read_csv(out)) == len(list((phantom_dir / "images").iterdir()))


def test_special_files_odd_names_and_duplicates(tiny_bundle, phantom_dir, tmp_path, capsys):
    import os

    d = tmp_path / "archive"
    d.mkdir()
    src = (phantom_dir / "images" / "ph0021_000000.dcm").read_bytes()
    odd = os.fsencode(str(d)) + b"/caf\xe9\xff.dcm"  # not UTF-8
    with open(odd, "wb") as fh:
        fh.write(src)
    (d / "ok.dcm").write_bytes(src)
    os.mkfifo(d / "pipe")
    long_name = str(d / ("y" * 300 + ".png"))
    for fmt in (".csv", ".jsonl", ".parquet"):
        out = tmp_path / f"s{fmt}"
        code = main(
            [
                "score",
                str(d),
                str(d / "ok.dcm"),
                long_name,
                "--weights",
                str(tiny_bundle),
                "--out",
                str(out),
                "--workers",
                "1",
                "--cam-dir",
                str(tmp_path / f"cams{fmt}"),
                "--quiet",
            ]
        )
        assert code == 1
        rows = list(read_output(out))
        errors = {os.path.basename(r["path"]): r["error"] for r in rows}

        assert len(rows) == 4, errors  # the odd name, ok.dcm once (given twice), the FIFO, the long name
        assert errors["pipe"].startswith("not-a-file") and any(e.startswith("name-too-long") for e in errors.values())
        assert sum(1 for e in errors.values() if e == "") == 2
        assert "1 duplicate input(s) scored once" in capsys.readouterr().err
        # --resume reads the odd name back and scores nothing again
        assert main(["score", str(d), long_name, "--weights", str(tiny_bundle), "--out", str(out), "--workers", "0", "--resume", "--quiet"]) == 1
        assert "(0 scored now)" in capsys.readouterr().err


def test_output_paths_are_checked_before_any_work(tiny_bundle, phantom_dir, tmp_path, capsys):
    images = str(phantom_dir / "images")
    (tmp_path / "afile").write_text("x")
    for args, needle in (
        (["--out", str(tmp_path)], "is a folder"),
        (["--out", str(tmp_path / "s.xlsx")], "must end in"),
        (["--out", str(tmp_path / "s.csv"), "--cam-dir", str(tmp_path / "afile")], "--cam-dir must be a folder"),
        (["--out", str(tmp_path / "afile" / "s.csv")], "is a file, not a folder"),
    ):
        assert main(["score", images, "--weights", str(tiny_bundle), *args]) == 2
        assert needle in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing written


def test_a_file_that_hangs_the_decoder_is_a_timeout_row(tiny_bundle, phantom_dir, tmp_path, monkeypatch):
    import time

    import cxr_miliary.inference.decoding as decoding

    real = decoding.load_image

    def slow_on_one(path, **kw):
        if str(path).endswith("ph0021_000001.dcm"):
            time.sleep(30)
        return real(path, **kw)

    monkeypatch.setattr(decoding, "load_image", slow_on_one)  # the forked workers inherit it
    out = tmp_path / "s.csv"
    t = time.perf_counter()
    code = main(
        [
            "--quiet",
            "score",
            str(phantom_dir / "images"),
            "--weights",
            str(tiny_bundle),
            "--out",
            str(out),
            "--workers",
            "1",
            "--batch-size",
            "2",
            "--file-timeout",
            "2",
        ]
    )
    assert code == 1 and time.perf_counter() - t < 25
    df = pd.read_csv(out, keep_default_na=False)
    slow = df[df["path"].str.endswith("ph0021_000001.dcm")]["error"].iloc[0]
    assert slow.startswith("timeout: decoding took longer than the 2 s budget")
    assert (df[~df["path"].str.endswith("ph0021_000001.dcm")]["error"] == "").all()


def test_a_full_disk_is_exit_2_naming_the_path_and_resume_recovers(tiny_bundle, phantom_dir, tmp_path, monkeypatch, capsys):
    import errno

    import cxr_miliary.scoring.journal as journal

    out = tmp_path / "s.csv"
    real_fsync = journal.os.fsync
    calls = []

    def full(fd):
        calls.append(fd)
        if len(calls) > 1:  # the first batch is on disk, the second finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(journal.os, "fsync", full)
    argv = ["--quiet", "score", str(phantom_dir / "images"), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "0", "--batch-size", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no space left" in err and str(out) in err and "unexpected" not in err
    assert not out.exists()
    monkeypatch.setattr(journal.os, "fsync", real_fsync)
    assert main([*argv, "--resume"]) == 0
    assert len(pd.read_csv(out)) == len(list((phantom_dir / "images").iterdir()))


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_score_killed_leaves_no_worker_behind(tiny_bundle, phantom_dir, tmp_path, sig):
    import os
    import subprocess
    import sys
    import time

    psutil = pytest.importorskip("psutil")
    films = tmp_path / "films"
    films.mkdir()
    src = (phantom_dir / "images" / "ph0021_000001.dcm").read_bytes()
    for i in range(400):
        (films / f"{i:04d}.dcm").write_bytes(src)
    cmd = [sys.executable, "-m", "cxr_miliary", "--quiet", "score", str(films), "--weights", str(tiny_bundle), "--out", str(tmp_path / "s.csv")]
    proc = subprocess.Popen([*cmd, "--workers", "2", "--batch-size", "2", "--precision", "fp32"], stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 60
    children = []
    while time.time() < deadline and len(children) < 2:
        children = parent.children(recursive=True)
        time.sleep(0.2)
    assert len(children) >= 2, "the decode workers never started"
    os.kill(proc.pid, getattr(__import__("signal"), sig))
    proc.wait(30)
    time.sleep(5)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    for c in alive:
        c.kill()
    assert not alive, f"{len(alive)} worker(s) outlived score after {sig}"
