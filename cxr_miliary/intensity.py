"""Two intensity steps of the training pipeline, as albumentations transforms at numpy speed.

albumentations' ``RandomBrightnessContrast`` and ``Normalize`` go through albucore, which
on float32 images took 2.5 ms and 2.2 ms per 512² image here (numpy: 0.2 ms) — together 90 %
of the training augmentation, and on a GPU host the data pipeline, not the GPU, set the
pace (``cxr-miliary bench train``). These keep albumentations' parameter sampling (from the
transform's own seeded ``py_random``, so augmentation stays keyed by seed, epoch and row)
and its arithmetic; only the implementation is plain numpy. Imported lazily: it pulls in
albumentations, which inference never needs.
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np


class BrightnessContrast(A.ImageOnlyTransform):
    """``RandomBrightnessContrast`` for float images in [0, 1]: ``clip(x * alpha + beta, 0, 1)``.

    Args:
        brightness_limit: beta is drawn from [-limit, limit] (in units of the maximum, 1.0).
        contrast_limit: alpha is 1 + a draw from [-limit, limit].
        p: Probability of applying.
    """

    def __init__(self, brightness_limit: float = 0.2, contrast_limit: float = 0.2, p: float = 0.5) -> None:
        super().__init__(p=p)
        self.brightness_limit = (-brightness_limit, brightness_limit)
        self.contrast_limit = (-contrast_limit, contrast_limit)

    def get_params(self) -> dict[str, float]:
        """Draw alpha and beta as albumentations does (contrast first)."""
        alpha = 1.0 + self.py_random.uniform(*self.contrast_limit)
        beta = self.py_random.uniform(*self.brightness_limit)
        return {"alpha": alpha, "beta": beta}

    def apply(self, img: np.ndarray, alpha: float = 1.0, beta: float = 0.0, **params: Any) -> np.ndarray:
        """Scale, shift and clip in float32."""
        out = np.multiply(img, np.float32(alpha), dtype=np.float32)
        out += np.float32(beta)
        return np.clip(out, 0.0, 1.0, out=out)


class Standardise(A.ImageOnlyTransform):
    """``Normalize(mean, std, max_pixel_value=1.0)`` for one-value statistics: ``(x - mean) / std`` in float32."""

    def __init__(self, mean: float, std: float) -> None:
        super().__init__(p=1.0)
        self.mean, self.std = float(mean), float(std)

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        """Subtract and divide in float32."""
        out = np.subtract(img, np.float32(self.mean), dtype=np.float32)
        out *= np.float32(1.0 / self.std)
        return out
