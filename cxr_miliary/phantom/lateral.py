"""A lateral chest view, for checking that lateral films are told from frontal ones.

Not a training image: it has no lesions and no truth masks, only the anatomy a lateral
shows - one aerated field (both lungs superimposed) between the sternum in front and the
spine behind, the heart in the lower front, the diaphragm below, the arms raised above -
through the same acquisition as the frontal phantoms.
"""

from __future__ import annotations

import numpy as np

from .acquisition import acquire
from .anatomy import _sig
from .generator import rng_for


def render_lateral(seed: int, index: int, size: int = 512) -> np.ndarray:
    """Display values (size x size, [0, 1]) of lateral view ``index`` of set ``seed``."""
    rng = rng_for(seed, 10_000_000 + index)
    ax = (np.arange(size, dtype=np.float32) + 0.5) / size
    X, Y = np.meshgrid(ax, ax)
    facing_left = rng.random() < 0.5
    if not facing_left:
        X = 1.0 - X  # anterior on the image's right
    soft = 3.0 / size
    front, back = rng.uniform(0.12, 0.2), rng.uniform(0.82, 0.9)
    body = _sig(X - front - 0.04 * np.sin(np.pi * Y), soft * 2) * _sig(back - X, soft * 2)
    A = 0.8 * body
    # one aerated field: both lungs superimposed, from the apex to the diaphragm
    apex, dome = rng.uniform(0.1, 0.16), rng.uniform(0.7, 0.8)
    lung = (
        _sig(X - front - 0.06, soft)
        * _sig(back - 0.12 - X, soft)
        * _sig(Y - apex - 0.3 * (X - 0.5) ** 2, soft)
        * _sig(dome - 0.15 * (X - 0.55) ** 2 - Y, soft)
    )
    A = A - 0.4 * lung
    # heart: lower anterior density; spine: bright vertebral column behind the lungs
    heart = _sig(1.0 - ((X - front - 0.18) / 0.2) ** 2 - ((Y - 0.62) / 0.16) ** 2, soft * 3)
    A = A + 0.25 * heart * lung
    spine = _sig(0.035 - np.abs(X - back + 0.07), soft) * body
    discs = 0.5 + 0.5 * np.cos(2 * np.pi * Y / rng.uniform(0.045, 0.055))
    A = A + spine * (0.15 + 0.06 * discs)
    A = A + 0.12 * _sig(0.012 - np.abs(X - front - 0.015), soft) * _sig(Y - 0.18, soft) * _sig(0.62 - Y, soft)  # sternum
    arms = _sig(0.12 - np.abs(X - 0.45), soft * 4) * _sig(0.2 - Y, soft * 4)
    A = A + 0.3 * arms
    return acquire(A.astype(np.float32), rng, markers=False).display
