"""The inference bench's faithfulness check: a runtime against itself differs by nothing."""

from __future__ import annotations

import numpy as np

from cxr_miliary import Predictor
from cxr_miliary.bench.inference import _timed, faithfulness


def test_a_runtime_is_faithful_to_itself(tiny_bundle, phantom_dir):
    p = Predictor.load(tiny_bundle, precision="fp32")
    paths = sorted(str(f) for f in (phantom_dir / "images").glob("*.dcm"))
    res = faithfulness(p, p, paths, np.array([0, 1] * (len(paths) // 2) + [0] * (len(paths) % 2)))
    assert res["max_abs_prob_diff"] == 0.0 and res.get("flips", 0) == 0
    assert _timed(lambda: None, 3) >= 0
