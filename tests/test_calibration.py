"""Temperature scaling and the threshold rules."""

from __future__ import annotations

import numpy as np
import pytest

from cxr_miliary.calibration import choose_threshold, fit_temperature, sigmoid


def test_temperature_and_threshold_rules():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    x = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.0, 2000)
    calibrated = 2.0 * x  # the exact log-odds of two unit Gaussians at +-1
    overconfident = 3.0 * calibrated
    t = fit_temperature(overconfident, y)
    assert 2.0 < t < 4.5  # recovers roughly the factor 3
    p = sigmoid(overconfident / t)
    op = choose_threshold(p, y, "sensitivity", 0.9)
    assert op["sensitivity"] >= 0.9 and op["specificity"] > 0.3
    assert choose_threshold(p, y, "specificity", 0.9)["specificity"] >= 0.9
    assert choose_threshold(p, y, "youden")["threshold"] > 0
    with pytest.raises(ValueError):
        choose_threshold(p, y, "banana")
