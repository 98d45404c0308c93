"""What scoring needs of a model: inputs of the bundle's size, the calibrated probability."""

from __future__ import annotations

import numpy as np

from cxr_miliary import Predictor


def test_inputs_have_the_bundles_shape_and_the_probability_is_temperature_scaled(tiny_bundle):
    scorer = Predictor.load(tiny_bundle, precision="fp32").scorer
    x = scorer.inputs(np.random.default_rng(0).random((300, 200)).astype(np.float32))
    assert x.shape == (1, scorer.input_size, scorer.input_size) and x.dtype == np.float32
    p = scorer.probability(np.array([0.0, 3.0]))
    assert p[0] == 0.5 and abs(p[1] - 1 / (1 + np.exp(-3.0 / scorer.temperature))) < 1e-12
    assert scorer.model["name"] == "tiny-test" and scorer.threshold == 0.5


def test_a_film_bundle_views_the_whole_film_and_never_falls_back(tiny_bundle):
    scorer = Predictor.load(tiny_bundle, precision="fp32").scorer
    px = np.random.default_rng(1).random((300, 200)).astype(np.float32)
    x, view = scorer.view(px, None, usable=False)
    assert view.box == (0, 0, 200, 300) and view.fallback is False and np.array_equal(x, scorer.inputs(px))
