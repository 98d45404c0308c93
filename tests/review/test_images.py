"""The review page's pictures: thumbnails and film views next to the page, overlays found where they moved."""

from __future__ import annotations

from PIL import Image

from cxr_miliary.phantom import generate_phantoms
from cxr_miliary.review.images import FILM_PX, THUMB_PX, overlay_file, write_images


def test_pictures_from_films_and_overlays(tmp_path):
    generate_phantoms(2, tmp_path / "ph", seed=3, size=1500, formats=("dcm",))
    films = sorted((tmp_path / "ph" / "images").glob("*.dcm"))
    cams = tmp_path / "cams"
    cams.mkdir()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(cams / "o.jpg")
    rows = [
        {"i": 0, "_film": str(films[0]), "ov": "/gone/o.jpg"},  # the overlay moved with --cam-dir
        {"i": 1, "_film": str(films[1]), "ov": ""},  # no overlay: the thumbnail is the film
        {"i": 2, "_film": str(tmp_path / "missing.dcm"), "ov": ""},  # nothing to draw
    ]
    page = tmp_path / "out" / "page.html"
    page.parent.mkdir()
    write_images(rows, page, cams)
    assert rows[0]["ov"] == "../cams/o.jpg" and rows[0]["t"] == "page_files/t0.jpg" and rows[0]["f"] == "page_files/f0.jpg"
    with Image.open(page.parent / rows[0]["t"]) as t, Image.open(page.parent / rows[0]["f"]) as f:
        assert max(t.size) == THUMB_PX and t.getpixel((10, 10))[0] > 150  # the red overlay, not the film
        assert max(f.size) == FILM_PX and f.mode == "RGB"
    assert rows[1]["t"] and rows[1]["f"] and rows[1]["ov"] == ""
    assert rows[2].get("t", "") == "" and rows[2].get("f", "") == ""
    assert overlay_file({"ov": "/gone/o.jpg"}, None) is None
