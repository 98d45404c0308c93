"""``cxr-miliary review``: one HTML page to go through what was scored, opened from disk.

The page is one file: styles and script inline, the rows as JSON in a ``<script
type="application/json">`` block (``<``, ``>``, ``&`` escaped, so no text in a row can
close it), pictures by relative path in ``<page>_files/``. Its Content-Security-Policy
allows nothing from the network and only the page's own script (by nonce): even markup
that got onto the page could not load or run anything. Names are shown as ``score``
wrote them (file paths); nothing from a DICOM header is on it.
"""

from __future__ import annotations

import html
import json
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

from ..atomic import write_text
from .rows import page_row, read_rows


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def rows_json(rows: list[dict[str, Any]]) -> str:
    """The rows as JSON that is safe inside a ``<script>`` block."""
    text = json.dumps({"rows": rows}, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_page(rows: list[dict[str, Any]], title: str, *, note: str = "", images: str = "'self' file: data:") -> str:
    """The page's HTML for these rows (:func:`~cxr_miliary.review.rows.page_row` rows).

    Args:
        rows: The page rows.
        title: Shown at the top (escaped).
        note: A line under it (escaped).
        images: The CSP ``img-src`` sources (the node's status server has no pictures to show).
    """
    nonce = secrets.token_urlsafe(16)
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    csp = f"default-src 'none'; img-src {images}; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'"
    cols = [
        ("", ""),
        ("n", "file"),
        ("p", "probability"),
        ("y", "call"),
        ("r", "reliable"),
        ("rs", "reasons / error"),
        ("pt", "pattern"),
        ("w", "warn."),
    ]
    header = "".join(f'<button type="button" data-sort="{k}">{label}</button>' if k else "<span></span>" for k, label in cols)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style nonce="{nonce}">{_asset("page.css")}</style>
</head><body>
<header><h1>{html.escape(title)}</h1><div class="note">{html.escape(note)}</div>
<div class="filters">
<label for="f-search">file name</label><input type="search" id="f-search" placeholder="search">
<label for="f-call">call</label><select id="f-call"><option value="all">all</option><option value="positive">positive</option><option value="negative">negative</option><option value="error">error</option></select>
<label for="f-reliable">reliable</label><select id="f-reliable"><option value="all">all</option><option value="yes">yes</option><option value="no">no</option></select>
<label for="f-reason">reason</label><select id="f-reason"><option value="all">all</option></select>
<label for="f-errors">error rows</label><select id="f-errors"><option value="all">shown</option><option value="only">only</option><option value="none">hidden</option></select>
<span id="count"></span></div></header>
<main><section id="listpane"><div id="cols">{header}</div><div id="list" tabindex="0"><div id="spacer"></div></div></section>
<section id="detail" aria-live="polite"></section></main>
<script type="application/json" id="rows">{rows_json(clean)}</script>
<script nonce="{nonce}">{_asset("page.js")}</script>
</body></html>
"""


def build_review(
    results: str | Path, out: str | Path, *, cam_dir: str | Path | None = None, images: bool = True, workers: int = 1, progress: bool = False
) -> dict[str, int]:
    """Write the review page of a results file (``score``'s CSV/Parquet/JSONL or the node's ``results.jsonl``).

    Args:
        results: The results file.
        out: The page (``.html``); pictures go to ``<stem>_files/`` beside it.
        cam_dir: Where the overlays are when the folder moved since ``score`` wrote the paths.
        images: Write thumbnails and film views (decoding each film again).
        workers: Processes for the pictures.
        progress: A progress bar.

    Returns:
        ``{"rows", "errors", "pictures"}``.

    Raises:
        ~cxr_miliary.review.rows.ResultsError: The results file cannot be read at all.
    """
    page = Path(out)
    rows = []
    for i, raw in enumerate(read_rows(results)):
        row = page_row(i, raw)
        row["_film"] = str(raw.get("path") or "") if not row["e"].startswith("malformed-row") else ""
        rows.append(row)
    if images:
        from .images import write_images

        write_images(rows, page, cam_dir, workers=workers, progress=progress)
    else:
        for r in rows:
            r["ov"] = ""
    errors = sum(1 for r in rows if r["e"])
    title = f"cxr-miliary review: {len(rows)} films from {Path(results).name}"
    note = f"{errors} with an error; sorted by probability. Research use only: not for diagnostic use."
    write_text(page, render_page(rows, title, note=note))
    return {"rows": len(rows), "errors": errors, "pictures": sum(1 for r in rows if r.get("t") or r.get("f"))}
