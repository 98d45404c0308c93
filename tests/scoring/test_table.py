"""The score table: columns, strict JSON, lossless file names that are not UTF-8, atomic writes."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from cxr_miliary.scoring.table import BASE_COLUMNS, columns_for, escape_path, read_output, stored_path, write_table

BAD = os.fsdecode(b"/data/caf\xe9\xff.dcm")  # a Latin-1 file name on a UTF-8 system


def test_columns():
    assert columns_for(False)[:5] == ["path", "probability", "positive", "threshold", "error"]
    assert {"frontal_chest", "in_distribution", "ood_score", "reliable"} <= set(BASE_COLUMNS)
    assert "cam_path" in columns_for(True, "d") and "cam_path" not in columns_for(True) and columns_for(False, None, "x")[-1] == "dicom_outputs"


def test_escape_is_lossless_and_documented():
    assert escape_path("/plain/ok.dcm") == "/plain/ok.dcm"
    assert escape_path(BAD) == "/data/caf\\xe9\\xff.dcm"
    assert stored_path(BAD, ".jsonl") == BAD and os.fsencode(stored_path(BAD, ".jsonl")) == b"/data/caf\xe9\xff.dcm"


@pytest.mark.parametrize("fmt", [".csv", ".parquet", ".jsonl"])
def test_every_format_writes_odd_names_and_no_nan(tmp_path, fmt):
    rows = [
        {"path": BAD, "probability": 0.25, "positive": False, "threshold": 0.5, "error": "", "ood_score": float("inf")},
        {"path": "/ok.png", "probability": None, "positive": None, "threshold": 0.5, "error": "not-found: no such file"},
    ]
    out = tmp_path / f"s{fmt}"
    write_table(out, iter(rows), columns_for(False))
    back = list(read_output(out))
    assert back[0]["path"] == stored_path(BAD, fmt) and back[0]["ood_score"] is None and back[0]["probability"] == 0.25
    assert back[1]["error"].startswith("not-found") and back[1]["probability"] is None
    if fmt == ".jsonl":
        for line in out.read_text().splitlines():
            json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    if fmt == ".csv":
        assert pd.read_csv(out)["path"][0] == "/data/caf\\xe9\\xff.dcm"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left behind


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    def rows():
        yield {"path": "a"}
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_table(tmp_path / "s.csv", rows(), columns_for(False))
    assert list(tmp_path.iterdir()) == []
