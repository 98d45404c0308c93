"""``cxr-miliary bench`` runs end to end and reports every figure the issues ask for."""

from __future__ import annotations

import json

import pytest

from cxr_miliary.cli.main import main


def test_bench_reports_paths_ratios_and_faithfulness(tiny_bundle, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--weights",
            str(tiny_bundle),
            "--n",
            "4",
            "--size",
            "256",
            "--batch-size",
            "2",
            "--workers",
            "0",
            "--no-memory",
            "--score-inputs",
            "6",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    res = json.loads(out.read_text())
    auto = res["auto_path"]
    assert auto in ("torch-fp32", "torch-bf16", "onnxruntime-fp32")
    for name in ("fp32-eager", "fp32", f"auto={auto}"):
        assert res[f"{name}_forward_img_s"] > 0 and res[f"{name}_score_img_s"] > 0
    assert res["fp32-eager_score_cam_img_s"] > 0 and res[f"auto={auto}_score_cam_img_s"] > 0
    assert res["auto_vs_eager_score"] > 0 and res["predict_loop_img_s"] > 0
    f = res["faithfulness"]
    assert 0 <= f["max_abs_prob_diff"] <= 1 and 0 <= f["decision_flips"] <= 1
    text = capsys.readouterr().out
    assert "auto vs fp32 eager" in text and "faithfulness" in text and "predict() loop" in text


def test_bench_train_prints_pipeline_model_and_ratio(tmp_path, capsys):
    out = tmp_path / "train.json"
    args = ["bench", "train", "--n", "8", "--size", "96", "--batch-size", "4", "--train-workers", "0", "--device", "cpu"]
    assert main([*args, "--backbone", "test_resnet", "--train-precision", "32-true", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["pipeline"]["0"]["img_s"] > 0 and res["model_img_s"] > 0 and res["augment_ms"] > 0 and res["collate_ms_per_batch"] > 0
    assert res["ratio_pipeline_to_model"] > 0 and res["workers_needed"] >= 1
    assert "pipeline / model" in capsys.readouterr().out


def test_bench_lungs_measures_against_truth_and_hand_outlines(tmp_path, capsys):
    from cxr_miliary.bench.lungs import outline_masks
    from cxr_miliary.bench.real_outlines import OUTLINES

    sides = outline_masks("CR-MONO1-10-chest.dcm", (440, 440))
    assert set(sides[sides > 0].ravel()) == {1, 2} and (sides == 1)[:, :220].sum() > 0.95 * (sides == 1).sum()
    assert outline_masks("unknown.dcm", (10, 10)) is None and "CR-MONO1-10-chest.dcm" in OUTLINES
    out = tmp_path / "lungs.json"
    assert main(["bench", "lungs", "--n", "2", "--size", "384", "--seed", "4242", "--json", str(out), "--sheet", str(tmp_path / "s.png")]) == 0
    assert "2 phantoms, seed 4242" in capsys.readouterr().out  # --seed reaches the phantoms (it used to be dropped)
    res = json.loads(out.read_text())
    learned = res["phantom"]["learned"]["iou"]["mean"]  # the shipped lung model
    assert learned > 0.9 and learned > res["phantom"]["classical"]["iou"]["mean"] - 0.05
    assert res["ms_2048"]["learned"] > 0 and (tmp_path / "s.png").stat().st_size > 10_000
    assert res["ms_2048"]["learned framed tight"] > 0  # a chest framed as real films are, timed too


def test_bench_train_refuses_bad_worker_lists(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "train", "--train-workers", "0,x"])
    assert exc.value.code == 2 and "comma list of worker counts" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("client", ["storescu", "pynetdicom"])
def test_bench_pacs_sends_films_to_a_node_and_counts_what_arrives(tiny_bundle, tmp_path, capsys, monkeypatch, client):
    pytest.importorskip("pynetdicom")
    import shutil

    if client == "storescu" and not shutil.which("storescu"):
        pytest.skip("DCMTK not installed (make test installs it as root)")
    if client == "pynetdicom":
        which = shutil.which
        monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "storescu" else which(name, *a, **k))
    out = tmp_path / "pacs.json"
    args = ["bench", "pacs", "--weights", str(tiny_bundle), "--n", "3", "--size", "160", "--repeats", "1", "--json", str(out)]
    assert main(args) == 0
    res = json.loads(out.read_text())
    assert res["serve_results"] == 3 and res["serve_objects_received"] == 6  # an SR and an SC per film
    assert res["score_films_per_s"] > 0 and res["serve_vs_score"] > 0 and len(res["serve_vs_score_each"]) == 1
    assert client in res["client"] and "films/s" in capsys.readouterr().out


def test_bench_pacs_refuses_a_run_in_which_storescu_did_not_store_every_film(monkeypatch, tmp_path):
    import shutil
    import subprocess

    from cxr_miliary.bench import pacs

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/storescu")
    monkeypatch.setattr(pacs.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, b"", b"E: Store SCU Failed: 0122"))
    with pytest.raises(RuntimeError, match="could not store every film.*0122"):
        pacs._send(11112, [tmp_path / "a.dcm"])
