"""The node bench's parts: result rows counted, a film's SOP class and syntax read from its header."""

from __future__ import annotations

from cxr_miliary.bench.pacs import _class_and_syntax, _rows
from cxr_miliary.phantom import generate_phantoms


def test_rows_and_headers(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"key": 1}\n\n{"key": 2}\n')
    assert _rows(tmp_path / "r.jsonl") == 2 and _rows(tmp_path / "none.jsonl") == 0
    generate_phantoms(1, tmp_path / "f", seed=3, size=64, formats=("dcm",))
    film = next((tmp_path / "f" / "images").glob("*.dcm"))
    assert _class_and_syntax(film) == ("1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.1.2.1")
