"""Cross-validation's parts: a fold's manifest validates on its fold only and keeps the test rows."""

from __future__ import annotations

import pandas as pd

from cxr_miliary.training.cv import _fold_manifest, _method


def test_a_folds_manifest(tmp_path):
    pool = pd.DataFrame({"path": list("abcd"), "label": [1, 0, 1, 0], "patient_id": list("wxyz"), "split": "train", "fold": [0, 1, 0, 1]})
    rest = pd.DataFrame({"path": ["t"], "label": [0], "patient_id": ["q"], "split": ["test"]})
    df = pd.read_csv(_fold_manifest(pool, rest, 1, tmp_path / "m.csv"))
    assert df.set_index("path")["split"].to_dict() == {"a": "train", "b": "val", "c": "train", "d": "val", "t": "test"}
    assert "fold" not in df.columns
    assert _method(pd.Series({"label_method": "Physician"})) == {"label_method": "Physician"} and _method(pd.Series({"x": 1})) == {}
