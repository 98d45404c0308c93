"""Patient-level, stratified, deterministic splits."""

from __future__ import annotations

import pandas as pd
import pytest

from cxr_miliary.data.splits import assign_splits, summarise


def test_no_patient_in_two_splits_positives_everywhere_and_the_same_seed_the_same_split():
    df = pd.DataFrame({"patient_id": [f"p{i // 2}" for i in range(200)], "label": [int(i % 20 < 4) for i in range(200)]})
    a, b = assign_splits(df, (0.8, 0.1, 0.1), seed=3), assign_splits(df, (0.8, 0.1, 0.1), seed=3)
    assert a.equals(b)
    df["split"] = a
    assert df.groupby("patient_id")["split"].nunique().max() == 1
    table = summarise(df)
    assert set(table.index) == {"train", "val", "test"} and (table["positives"] > 0).all()
    assert not assign_splits(df, (0.8, 0.1, 0.1), seed=4).equals(a)
    with pytest.raises(ValueError):
        assign_splits(df, (1.0, -1.0, 0.0))


def test_folds_keep_patients_whole_and_spread_positives():
    from cxr_miliary.data.splits import assign_folds

    df = pd.DataFrame({"patient_id": [f"p{i // 3}" for i in range(300)], "label": [int(i % 30 < 3) for i in range(300)]})
    folds = assign_folds(df, 3, seed=1)
    df["fold"] = folds
    assert df.groupby("patient_id")["fold"].nunique().max() == 1 and set(folds) == {0, 1, 2}
    pos = df[df["label"] == 1].groupby("fold")["patient_id"].nunique()
    assert pos.min() >= 3 and pos.max() - pos.min() <= 1
    assert assign_folds(df, 3, seed=1).equals(folds)
    with pytest.raises(ValueError):
        assign_folds(df.head(6), 5)
