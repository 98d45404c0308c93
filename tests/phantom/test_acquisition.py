"""Acquisition: attenuation to a processed detector image - white where dense, noisy, stored at its bit depth."""

from __future__ import annotations

import numpy as np

from cxr_miliary.phantom.acquisition import acquire


def test_denser_is_whiter_and_the_stored_values_fit_the_bits():
    att = np.zeros((256, 256), np.float32)
    att[:, 128:] = 0.6
    out = acquire(att, np.random.default_rng(0), markers=False, spacing_mm=0.7)
    assert out.display.dtype == np.float32 and out.display.min() >= 0.0 and out.display.max() <= 1.0
    assert out.display[:, 160:].mean() > out.display[:, :96].mean() + 0.1
    assert out.stored.max() < 2**out.bits and out.display[:, :96].std() > 0  # noise
    again = acquire(att, np.random.default_rng(0), markers=False, spacing_mm=0.7)
    assert np.array_equal(out.stored, again.stored)  # deterministic in its generator
