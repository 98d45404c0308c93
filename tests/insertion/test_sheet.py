"""The insertion contact sheet: each film beside its insertion, crops at the film's own pixels."""

from __future__ import annotations

import pytest
from PIL import Image

from cxr_miliary.insertion.job import insert_files
from cxr_miliary.insertion.sheet import CROP, contact_sheet
from cxr_miliary.phantom import generate_phantoms


def test_a_sheet_has_a_row_per_film_and_an_empty_set_is_an_error(tmp_path):
    generate_phantoms(2, tmp_path / "neg", seed=93, size=384, formats=("png",), patterns=("normal",), positive_fraction=0.0)
    films = sorted(str(p) for p in (tmp_path / "neg" / "images").glob("*.png"))
    insert_files(films, tmp_path / "ins", tier="florid", seed=2)
    with Image.open(contact_sheet(tmp_path / "ins", tmp_path / "sheet.png")) as im:
        assert im.size[0] == 3 * CROP + 4 * 8 and im.size[1] == 2 * (CROP + 22 + 8) + 8
    insert_files([], tmp_path / "empty")
    with pytest.raises(ValueError, match="no insertions"):
        contact_sheet(tmp_path / "empty", tmp_path / "none.png")
