"""Manifests from tables laid out exactly as the datasets publish them."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxr_miliary.data import assign_splits, csv_manifest, folder_manifest, nih_manifest, padchest_manifest, parse_label_list


def test_label_list_parsing():
    assert parse_label_list("['miliary opacities', ' normal']") == ["miliary opacities", "normal"]
    assert parse_label_list(float("nan")) is None
    assert parse_label_list("[]") is None
    assert parse_label_list("not a list") is None


def test_padchest_policy_views_and_drops(padchest_csv):
    df, rep = padchest_manifest(padchest_csv)
    by_path = df.set_index("path")
    assert rep.source_rows == 9
    assert rep.dropped["no parseable labels"] == 1
    assert sum(v for k, v in rep.dropped.items() if k.startswith("view")) == 2  # L and PA_
    assert by_path.loc["0/a1.png", "label"] == 1
    assert by_path.loc["1/b1.png", "label"] == 1 and by_path.loc["1/b1.png", "view"] == "AP"
    assert by_path.loc["3/g1.png", "label"] == 1
    assert by_path.loc["2/e1.png", "label"] == 0 and by_path.loc["3/h1.png", "label"] == 0
    assert by_path.loc["1/c1.png", "label"] == 0
    assert {"path", "label", "patient_id", "split", "sex", "age", "manufacturer", "label_method"} <= set(df.columns)
    assert by_path.loc["0/a1.png", "age"] == 2014 - 1950
    # one patient, several images, one split
    assert df[df.patient_id == "p1"]["split"].nunique() == 1


def test_padchest_images_root_excludes_missing(padchest_csv, tmp_path):
    root = tmp_path / "imgs"
    (root / "0").mkdir(parents=True)
    (root / "0" / "a1.png").write_bytes(b"x")
    df, rep = padchest_manifest(padchest_csv, images_root=root)
    assert df["path"].tolist() == ["0/a1.png"]
    assert rep.dropped["file missing under images root"] == 5 and len(rep.missing_examples) == 5


def test_padchest_custom_terms(padchest_csv):
    df, _ = padchest_manifest(padchest_csv, positive_terms=["reticular interstitial pattern"])
    assert df.set_index("path").loc["2/e1.png", "label"] == 1
    assert df["label"].sum() == 1


def test_nih_proxy_labels(tmp_path):
    table = tmp_path / "Data_Entry_2017.csv"
    table.write_text(
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
        "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n"
        "00000001_001.png,Cardiomegaly|Nodule,1,1,58,M,PA,2894,2729,0.143,0.143,\n"
        "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,\n"
        "00000003_000.png,Infiltration,0,3,74,F,AP,2500,2048,0.168,0.168,\n"
        "00000004_000.png,Nodule,0,4,60,F,LL,2500,2048,0.168,0.168,\n"
    )
    (tmp_path / "images_001" / "images").mkdir(parents=True)
    for name in ("00000001_000.png", "00000001_001.png", "00000002_000.png", "00000003_000.png"):
        (tmp_path / "images_001" / "images" / name).write_bytes(b"x")
    df, rep = nih_manifest(table, positive_labels=["nodule", "Infiltration"], images_root=tmp_path)
    lab = df.set_index("path")["label"]
    assert lab["images_001/images/00000001_001.png"] == 1 and lab["images_001/images/00000003_000.png"] == 1
    assert lab["images_001/images/00000002_000.png"] == 0
    assert len(df) == 4 and sum(rep.dropped.values()) == 1


def test_csv_and_folder_sources(tmp_path):
    t = tmp_path / "t.csv"
    pd.DataFrame(
        {
            "file": ["a.png", "b.png", "c.png", "d.png"],
            "y": ["1", "0", "yes", "maybe"],
            "pid": ["x", "x", "y", "z"],
            "fold": ["train", "valid", "test", "train"],
            "site": ["A", "B", "C", "D"],
        }
    ).to_csv(t, index=False)
    df, rep = csv_manifest(t, path_col="file", label_col="y", patient_col="pid", split_col="fold")
    assert df["split"].tolist() == ["train", "val", "test"] and df["site"].tolist() == ["A", "B", "C"]
    assert rep.dropped == {"label not 0/1": 1}
    with pytest.raises(ValueError, match="no column"):
        csv_manifest(t, path_col="nope", label_col="y")
    for sub in ("positive", "negative"):
        (tmp_path / "f" / sub).mkdir(parents=True)
        (tmp_path / "f" / sub / "x.png").write_bytes(b"x")
    df, _ = folder_manifest(tmp_path / "f")
    assert df.set_index("path")["label"].to_dict() == {"positive/x.png": 1, "negative/x.png": 0}


@settings(max_examples=60, deadline=None)
@given(
    patients=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 1)), min_size=1, max_size=200),
    seed=st.integers(0, 1000),
)
def test_no_patient_in_two_splits(patients, seed):
    df = pd.DataFrame({"patient_id": [f"p{p}" for p, _ in patients], "label": [lab for _, lab in patients]})
    split = assign_splits(df, (0.7, 0.15, 0.15), seed)
    assert split.isin(["train", "val", "test"]).all()
    assert df.assign(split=split).groupby("patient_id")["split"].nunique().max() == 1
    assert (assign_splits(df, (0.7, 0.15, 0.15), seed) == split).all()  # deterministic


def test_split_is_stratified():
    df = pd.DataFrame({"patient_id": [f"p{i}" for i in range(1000)], "label": [int(i < 100) for i in range(1000)]})
    split = assign_splits(df, (0.8, 0.1, 0.1), 0)
    pos = df.assign(split=split).groupby("split")["label"].sum()
    assert pos["train"] == 80 and pos["val"] == 10 and pos["test"] == 10
