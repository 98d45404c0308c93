"""The numpy-speed intensity steps give albumentations' own results, draw for draw."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest

from cxr_miliary.intensity import BrightnessContrast, Standardise


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
def test_brightness_contrast_equals_albumentations(seed):
    x = np.random.default_rng(seed).random((64, 48), dtype=np.float32)
    ours = A.Compose([BrightnessContrast(brightness_limit=0.3, contrast_limit=0.4, p=1.0)], seed=seed)
    theirs = A.Compose([A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.4, p=1.0)], seed=seed)
    a, b = ours(image=x)["image"], theirs(image=x)["image"]
    assert a.dtype == np.float32 and a.shape == x.shape
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert not np.allclose(a, x)  # something was drawn and applied


def test_standardise_equals_normalize():
    x = np.random.default_rng(3).random((32, 32), dtype=np.float32)
    a = A.Compose([Standardise(0.5, 0.25)])(image=x)["image"]
    b = A.Compose([A.Normalize(mean=0.5, std=0.25, max_pixel_value=1.0)])(image=x)["image"]
    np.testing.assert_allclose(np.squeeze(a), np.squeeze(b), atol=1e-6)
    assert a.dtype == np.float32
