"""evaluate: metrics with CIs, subgroups, localisation, plots, and a report that renders in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxr_miliary.cli.main import main
from cxr_miliary.evaluation.metrics import evaluate_scores, subgroups, with_ci
from cxr_miliary.phantom import generate_phantoms


@pytest.fixture(scope="module")
def evaluated(tiny_bundle, tmp_path_factory):
    root = tmp_path_factory.mktemp("ev")
    manifest = generate_phantoms(14, root / "ph", seed=88, size=256)
    out = root / "out"
    assert (
        main(
            [
                "--quiet",
                "evaluate",
                "--weights",
                str(tiny_bundle),
                "--manifest",
                str(manifest),
                "--out",
                str(out),
                "--workers",
                "0",
                "--bootstrap",
                "100",
            ]
        )
        == 0
    )
    return out


def test_outputs_and_metrics_json(evaluated):
    for name in ("metrics.json", "report.html", "roc_pr.png", "reliability.png", "histograms.png", "gallery.png", "scores.csv", "subgroups.csv"):
        assert (evaluated / name).exists(), name
    m = json.loads((evaluated / "metrics.json").read_text())
    assert m["n"] == 14 and 0 < m["positives"] < 14
    for key in ("auroc", "auprc", "sensitivity", "specificity", "brier", "ece"):
        v = m["metrics"][key]
        assert v["ci_low"] <= v["value"] + 1e-9 and v["value"] <= v["ci_high"] + 1e-9, key
    assert 0 <= m["threshold_for_target_sensitivity"]["threshold"] <= 1
    loc = m["localisation"]
    assert 0 <= loc["cam_mass_in_lungs"] <= 1 and loc["n_positives_with_masks"] == m["positives"]
    assert {"difficulty", "pattern_truth", "sex"} <= {s["column"] for s in m["subgroups"]}


def test_ci_narrows_with_more_data():
    rng = np.random.default_rng(0)

    def width(n):
        y = rng.integers(0, 2, n)
        p = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1)
        a = with_ci(p, y, 0.5, n_boot=200)["auroc"]
        return a["ci_high"] - a["ci_low"]

    assert width(2000) < width(100)


def test_subgroup_table_values():
    df = pd.DataFrame(
        {"probability": [0.9, 0.1, 0.8, 0.2], "label": [1, 0, 1, 0], "error": "", "sex": ["F", "F", "M", "M"], "age": [25, 70, 41, None]}
    )
    sub = subgroups(df, ["sex", "age"], 0.5)
    f = sub[(sub.column == "sex") & (sub.value == "F")].iloc[0]
    assert f["n"] == 2 and f["auroc"] == 1.0 and f["sensitivity"] == 1.0
    assert set(sub[sub.column == "age_band"]["value"]) == {"20-39", "60-79", "40-59", "unknown"}
    m = evaluate_scores(df, 0.5, n_boot=50)
    assert m["metrics"]["auroc"]["value"] == 1.0


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(evaluated, tmp_path):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = (evaluated / "report.html").resolve().as_uri()
    dom = subprocess.run(["chromium", *flags, "--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert 'data-images-ok="true"' in dom.stdout, dom.stderr[-2000:]
    count = int(dom.stdout.split('data-image-count="')[1].split('"')[0])
    assert count >= 4
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,2400", url], capture_output=True, timeout=120)
    with Image.open(shot) as img:
        arr = np.asarray(img.convert("L"))
    assert arr.std() > 10  # a rendered page, not a blank canvas


def test_update_card_records_figures_and_keeps_weights(evaluated, tiny_bundle, tmp_path):
    from cxr_miliary.evaluation.run import update_card
    from cxr_miliary.models import load_bundle

    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    update_card(bundle, json.loads((evaluated / "metrics.json").read_text()), "14 fresh phantoms")
    card = json.loads((bundle / "card.json").read_text())
    assert "AUROC" in card["evaluation"]["figures"]
    text = (bundle / "MODEL_CARD.md").read_text()
    assert "Measured quality: 14 fresh phantoms" in text and "PadChest" in text
    load_bundle(bundle)  # sha256 still verifies
