"""The task needs the pattern: global image statistics must not give it away."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import laplace, sobel

from cxr_miliary.metrics import auroc
from cxr_miliary.phantom import render_phantom


def _features(d: np.ndarray) -> np.ndarray:
    hist = np.histogram(d, bins=16, range=(0, 1))[0] / d.size
    grad = np.mean(sobel(d, 0) ** 2 + sobel(d, 1) ** 2)
    lap = np.mean(laplace(d) ** 2)
    return np.concatenate([hist, [d.mean(), d.std(), grad, lap, np.log(grad), np.log(lap)]])


@pytest.mark.slow
def test_linear_model_on_global_statistics_cannot_separate():
    n, size = 500, 384
    feats, labels = [], []
    for i in range(n):
        ph = render_phantom(2024, i, size)
        feats.append(_features(ph.display))
        labels.append(ph.record["label"])
    X, y = np.array(feats), np.array(labels)
    assert 0.3 < y.mean() < 0.7
    tr, te = slice(0, n // 2), slice(n // 2, n)
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-9
    Z = np.c_[(X - mu) / sd, np.ones(n)]
    # ridge-regularised least squares = a linear discriminant on the statistics
    w = np.linalg.solve(Z[tr].T @ Z[tr] + np.eye(Z.shape[1]), Z[tr].T @ (2.0 * y[tr] - 1.0))
    score = auroc(Z[te] @ w, y[te])
    assert score < 0.75, f"global statistics separate the classes (held-out AUROC {score:.3f})"
