"""Calibration at export: a temperature that lowers the log loss and a threshold meeting the sensitivity asked for."""

from __future__ import annotations

import numpy as np

from cxr_miliary.training.bundle_export import calibrate


def test_calibration_fits_a_temperature_and_meets_the_sensitivity_target():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(100), np.zeros(400)]
    logits = 3.0 * (labels * 2 - 1) + rng.normal(0, 2.0, labels.size)  # over-confident logits
    out = calibrate(logits * 3, labels, "sensitivity", 0.9)
    assert out["temperature"] > 1.0  # over-confidence is tempered
    p = 1 / (1 + np.exp(-(logits * 3) / out["temperature"]))
    assert (p[labels == 1] >= out["threshold"]).mean() >= 0.9
    after, before = out["metrics"]["val_after_calibration"], out["metrics"]["val_before_calibration"]
    assert after["auroc"] == before["auroc"]  # calibration never reorders
