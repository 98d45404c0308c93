"""One implementation of each metric; checked against hand-computed values and torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc, binary_average_precision, binary_calibration_error

from cxr_miliary.metrics import agreement, auprc, auroc, brier, ece, sens_spec, sigmoid, summary_metrics


def test_hand_computed_values():
    p = np.array([0.1, 0.4, 0.35, 0.8])
    y = np.array([0, 0, 1, 1])
    assert auroc(p, y) == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ordered
    assert sens_spec(p, y, 0.5) == (0.5, 1.0)
    assert brier(p, y) == pytest.approx(np.mean([0.01, 0.16, 0.4225, 0.04]))
    assert np.isnan(auroc(p, np.zeros(4))) and np.isnan(auprc(p, np.zeros(4)))
    assert sigmoid(np.array([-800.0, 0.0, 800.0])).tolist() == [0.0, 0.5, 1.0]  # no overflow warning, exact limits


def test_matches_torchmetrics_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + rng.random(500) * 0.7, 0, 1).round(2)  # ties included
    tp, ty = torch.tensor(p, dtype=torch.float32), torch.tensor(y)
    assert auroc(p, y) == pytest.approx(float(binary_auroc(tp, ty)), abs=1e-6)
    assert auprc(p, y) == pytest.approx(float(binary_average_precision(tp, ty)), abs=1e-6)
    assert ece(p, y) == pytest.approx(float(binary_calibration_error(tp, ty, n_bins=10)), abs=0.02)


def test_summary_and_agreement():
    y = np.array([0, 1, 0, 1])
    m = summary_metrics(np.array([0.2, 0.9, 0.1, 0.6]), y, 0.5)
    assert m["auroc"] == 1.0 and m["sensitivity"] == 1.0 and m["specificity"] == 1.0 and m["nll"] > 0
    assert "auroc" not in summary_metrics(np.array([0.2, 0.3]), np.array([0, 0]))
    a = agreement(np.array([0.49, 0.2]), np.array([0.51, 0.2]), 0.5)
    assert a == {"max_abs_prob_diff": pytest.approx(0.02), "flips": 1}
