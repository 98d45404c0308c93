"""evaluate as a job: metrics.json, plots and the card updated from the figures."""

from __future__ import annotations

import json
import shutil


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
