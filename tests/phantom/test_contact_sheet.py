"""The phantom contact sheet: every pattern and tier as a tile, written as one image."""

from __future__ import annotations

from PIL import Image

from cxr_miliary.phantom.contact_sheet import contact_sheet


def test_the_sheet_is_one_image_of_tiles(tmp_path):
    path = contact_sheet(tmp_path / "sheet.png", seed=1, size=128, tile=96)
    with Image.open(path) as im:
        w, h = im.size
    assert w >= 3 * 96 and h >= 2 * 96
