"""Results read for the review page: every format, lenient per row, strict about the file."""

from __future__ import annotations

import pytest

from cxr_miliary.review.rows import ResultsError, page_row, read_rows, reason_code


def test_a_jsonl_line_that_is_not_json_is_an_error_row(tmp_path):
    p = tmp_path / "results.jsonl"
    p.write_text(
        '{"key": "abcdef0123456789", "probability": 0.7, "positive": true, "reliable": false, "reasons": "ood: far | no code here"}\n[1, 2]\n{torn\n'
    )
    rows = [page_row(i, r) for i, r in enumerate(read_rows(p))]
    assert len(rows) == 3
    assert rows[0]["n"] == "film abcdef012345" and rows[0]["p"] == 0.7 and rows[0]["y"] is True and rows[0]["r"] is False
    assert rows[0]["rs"] == ["ood: far", "no code here"] and rows[0]["c"] == ["ood", "other"]
    assert rows[1]["e"] == "malformed-row: line 2 is not a JSON object" and rows[2]["c"] == ["malformed-row"]


def test_csv_values_that_do_not_parse_name_their_column(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("path,probability,positive,reliable,left-lower\na.png,0.3,False,True,nan\nb.png,0.9,maybe,True,0.1\nc.png,inf,True,True,\n")
    a, b, c = (page_row(i, r) for i, r in enumerate(read_rows(p)))
    assert a["e"].startswith("malformed-row: its left-lower is") and a["p"] is None  # NaN is not a share
    assert b["e"].startswith("malformed-row: its positive is 'maybe'")
    assert c["e"].startswith("malformed-row: its probability is 'inf'")


def test_long_text_is_cut_and_codes_are_codes():
    row = page_row(0, {"path": "x" * 5000, "error": "truncated: the file ends early", "warnings": "w1 |  | w2"})
    assert len(row["n"]) == 2001 and row["c"] == ["truncated"] and row["w"] == ["w1", "w2"]
    assert reason_code("not a code: words") == "other" and reason_code("partial-film: cut") == "partial-film"


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("none.csv", None, "no such results file"),
        ("t.csv", "a,b\n1,2\n", "no probability column"),
        ("t.txt", "x", "must be .csv"),
        ("t.parquet", "junk", "Parquet"),
    ],
)
def test_files_that_are_not_results_are_refused_with_the_reason(tmp_path, name, content, match):
    p = tmp_path / name
    if content is not None:
        p.write_text(content)
    with pytest.raises(ResultsError, match=match):
        list(read_rows(p))
