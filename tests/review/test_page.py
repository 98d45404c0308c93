"""The review page from a real ``score`` run, driven in headless Chromium: rows, filters, sort, keys, the film view, hostile text, no identifiers."""

from __future__ import annotations

import csv
import json
import shutil

import pydicom
import pytest

from cxr_miliary.bench.review import chromium, drive
from cxr_miliary.cli.main import main
from cxr_miliary.phantom import generate_phantoms
from cxr_miliary.review.page import build_review, rows_json

HOSTILE_NAMES = [
    "<img src=x onerror=window.__pwned=1>.png",
    '"><svg onload=window.__pwned=2>.png',
    'it\'s "quoted" & <b>bold<\\b>.png',
    "line\nbreak.png",
    "\u202eevil\u200f.png",
    "n" * 240 + ".png",
]
#: Text no file name can carry (a slash), written into the table by hand.
HOSTILE_PATH = "</script><script>window.__pwned=4</script>"
HOSTILE_REASON = "out-of-distribution: a < b & c > d <script>window.__pwned=5</script>"
NAME = "Doe^Jane"  # a patient's name in the films' headers: never on the page


@pytest.fixture(scope="module")
def scored(tiny_bundle, tmp_path_factory):
    """``score --cam-dir`` over phantoms (PNG and DICOM with a patient's name), copies under hostile names, and an unreadable file."""
    root = tmp_path_factory.mktemp("review")
    generate_phantoms(3, root / "ph", seed=41, size=192, formats=("png", "dcm"))
    films = root / "films"
    films.mkdir()
    pngs = sorted((root / "ph" / "images").glob("*.png"))
    for i, p in enumerate(pngs):
        shutil.copy(p, films / f"film{i}.png")
    for p in sorted((root / "ph" / "images").glob("*.dcm")):
        ds = pydicom.dcmread(p)
        ds.PatientName, ds.PatientID = NAME, "MRN-99812"
        ds.save_as(films / p.name, enforce_file_format=True)
    deep = films / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    for i, name in enumerate(HOSTILE_NAMES):
        shutil.copy(pngs[i % len(pngs)], (deep if len(name) > 200 else films) / name)
    (films / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    table = root / "s.csv"
    main(["--quiet", "score", str(films), "--weights", str(tiny_bundle), "--out", str(table), "--cam-dir", str(root / "cams"), "--workers", "0"])
    with open(table, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    extra = dict(rows[0])
    extra.update(path=HOSTILE_PATH, reasons=HOSTILE_REASON, overlay_path="", cam_path="")
    bad = dict(rows[0])
    bad.update(path="malformed.png", probability="not-a-number", overlay_path="", cam_path="")
    with open(table, "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writerow(extra)
        w.writerow(bad)
    page = root / "page" / "review.html"
    page.parent.mkdir()
    res = build_review(table, page)
    return {"root": root, "page": page, "res": res, "n": len(rows) + 2, "errors": sum(1 for r in rows if r["error"]) + 1}


def test_every_row_is_on_the_page_with_its_pictures_and_no_identifier(scored):
    page, res = scored["page"], scored["res"]
    assert res["rows"] == scored["n"] and res["errors"] == scored["errors"] >= 2
    text = page.read_text(encoding="utf-8")
    data = json.loads(text.split('<script type="application/json" id="rows">')[1].split("</script>")[0])["rows"]
    assert len(data) == scored["n"]
    assert {r["n"] for r in data} >= {HOSTILE_PATH} and any(r["n"].endswith(HOSTILE_NAMES[0]) for r in data)
    (malformed,) = [r for r in data if r["n"] == "malformed.png"]
    assert malformed["e"].startswith("malformed-row: its probability is 'not-a-number'") and malformed["p"] is None
    scored_rows = [r for r in data if r["p"] is not None and r["n"] != HOSTILE_PATH]
    assert all(r["t"] and r["f"] and r["ov"] for r in scored_rows)  # thumbnail, film view, overlay
    assert all((page.parent / r["t"]).is_file() and (page.parent / r["f"]).is_file() for r in scored_rows)
    assert "</script><script>" not in text.split('id="rows">')[1].split("</script>")[0]  # the JSON block cannot be closed by a row
    files = [page, *page.parent.glob("review_files/*")]
    for f in files:
        blob = f.read_bytes()
        assert b"Doe" not in blob and b"MRN-99812" not in blob, f
    assert "http://" not in text and "https://" not in text  # nothing from the network


@pytest.mark.skipif(chromium() is None, reason="Debian chromium not installed (make test installs it as root)")
def test_the_page_works_in_chromium_and_runs_nothing_it_shows(scored):
    steps = """
    var b = doc.body.dataset, out = {};
    var set = async function (id, v) { var e = doc.getElementById(id); e.value = v; e.dispatchEvent(new win.Event(id === "f-search" ? "input" : "change")); await new Promise(function (r) { setTimeout(r, 50); }); return Number(b.shown); };
    out.total = Number(b.shown);
    out.names = Array.prototype.map.call(doc.querySelectorAll(".row .name"), function (e) { return e.title; });
    out.first_probs = Array.prototype.map.call(doc.querySelectorAll(".row > div:nth-child(3)"), function (e) { return e.textContent; });
    out.errors_only = await set("f-errors", "only");
    out.no_errors = await set("f-errors", "none");
    await set("f-errors", "all");
    out.call_error = await set("f-call", "error");
    await set("f-call", "all");
    out.search_film1 = await set("f-search", "film1");
    await set("f-search", "");
    out.reason_codes = Array.prototype.map.call(doc.querySelectorAll("#f-reason option"), function (o) { return o.value; });
    out.by_ood = await set("f-reason", "out-of-distribution");
    await set("f-reason", "all");
    doc.querySelector('#cols button[data-sort="n"]').click();
    await new Promise(function (r) { setTimeout(r, 50); });
    out.sorted_names = Array.prototype.map.call(doc.querySelectorAll(".row .name"), function (e) { return e.textContent; });
    var key = function (k) { doc.dispatchEvent(new win.KeyboardEvent("keydown", {key: k, bubbles: true})); };
    doc.querySelector(".row .name").click();  // the first film of the list
    out.sel0 = b.selected; key("ArrowDown"); out.sel1 = b.selected; key("j"); out.sel2 = b.selected; key("k"); out.sel3 = b.selected;
    doc.querySelector('#cols button[data-sort="p"]').click();  // back to probability, highest first: a scored film is selected
    await new Promise(function (r) { setTimeout(r, 50); });
    var view = doc.getElementById("view");
    out.map_src = view ? view.getAttribute("src") : null; out.map0 = b.map;
    key("m"); await new Promise(function (r) { setTimeout(r, 300); });
    view = doc.getElementById("view"); out.film_src = view ? view.getAttribute("src") : null; out.map1 = b.map;
    out.film_loaded = view ? view.naturalWidth : 0;
    key("m"); out.map2 = b.map;
    out.detail = doc.getElementById("detail").textContent;
    out.pwned = [win.__pwned, window.__pwned];
    out.injected = doc.querySelectorAll('img[src="x"], svg, b, script:not([nonce]):not([type])').length;
    doc.getElementById("f-search").value = "script"; doc.getElementById("f-search").dispatchEvent(new win.Event("input"));
    await new Promise(function (r) { setTimeout(r, 50); });
    out.script_rows = Array.prototype.map.call(doc.querySelectorAll(".row .name"), function (e) { return e.title; });
    return out;
    """
    out = drive(scored["page"], steps)
    assert "harness_error" not in out, out
    n, errors = scored["n"], scored["errors"]
    assert out["total"] == n and out["errors_only"] == errors and out["no_errors"] == n - errors and out["call_error"] == errors
    assert out["search_film1"] == 1
    probs = [float(p) for p in out["first_probs"] if p]
    assert probs == sorted(probs, reverse=True) and probs  # highest first
    assert {"out-of-distribution", "truncated", "malformed-row"} <= set(out["reason_codes"])  # reasons and errors by their codes
    assert out["by_ood"] >= 1
    assert out["sorted_names"] == sorted(out["sorted_names"], key=str.lower)  # sorted by name
    assert len({out["sel0"], out["sel1"], out["sel2"]}) == 3 and out["sel3"] == out["sel1"]  # down, down, up
    assert out["map0"] == "on" and out["map1"] == "off" and out["map2"] == "on"
    assert out["map_src"] and out["film_src"] and out["map_src"] != out["film_src"] and out["film_loaded"] > 0
    assert "share of the map" in out["detail"]
    assert out["pwned"] == [None, None] and out["injected"] == 0  # nothing it shows ran
    assert HOSTILE_PATH in out["script_rows"]  # shown as written, as text


def test_rows_json_cannot_close_its_script_block():
    text = rows_json([{"n": "</script><script>alert(1)</script>", "w": ["a & b", "\u2028"]}])
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["rows"][0]["n"] == "</script><script>alert(1)</script>"
