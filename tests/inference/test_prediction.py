"""What ``predict`` prints: plain JSON, no arrays or identifiers, led by NOT RELIABLE when it is not."""

from __future__ import annotations

import json

import numpy as np

from cxr_miliary.inference.prediction import Prediction, summary_text


def _p(**kw):
    base = dict(probability=0.8, positive=True, threshold=0.5, logit=1.2, model={"name": "m", "sha256": "s", "runtime": "onnxruntime-fp32"})
    base.update(kw)
    return Prediction(**base)


def test_the_json_has_no_arrays_and_says_what_was_read():
    p = _p(cam=np.ones((4, 4)), lung_mask=np.ones((4, 4), bool), meta={"source_format": "dicom", "rows": 4, "columns": 4, "PatientID": "x"})
    d = json.loads(json.dumps(p.to_dict()))
    assert "cam" not in d and "lung_mask" not in d and d["image"]["rows"] == 4 and "PatientID" not in json.dumps(d)
    assert d["probability"] == 0.8 and d["disclaimer"]


def test_an_unreliable_result_says_so_first():
    text = _p(reliable=False, integrity={"reasons": ["synthetic-model: a phantom model on a real film"], "in_distribution": False}).to_text()
    assert text.splitlines()[0].startswith("NOT RELIABLE")
    assert not summary_text(_p().to_dict()).startswith("NOT RELIABLE")
