"""Strict JSON: NaN and infinities never reach a file; numpy values become plain JSON."""

from __future__ import annotations

import json
import math

import numpy as np

from cxr_miliary.strict_json import dumps, jsonable


def test_non_finite_numbers_become_null_and_numpy_becomes_plain():
    text = dumps({"a": math.nan, "b": np.float32(0.5), "c": [np.int64(3), math.inf], "d": np.array([1.0, -math.inf])})
    assert json.loads(text) == {"a": None, "b": 0.5, "c": [3, None], "d": [1.0, None]}
    assert "NaN" not in text and "Infinity" not in text
    assert jsonable((1, np.bool_(True))) == [1, True]
