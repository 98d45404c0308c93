"""Metrics with confidence intervals, and subgroups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxr_miliary.evaluation.metrics import evaluate_scores, subgroups, with_ci


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
