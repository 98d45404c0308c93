"""``cxr-miliary bench`` runs end to end and reports every figure the issues ask for."""

from __future__ import annotations

import json

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
