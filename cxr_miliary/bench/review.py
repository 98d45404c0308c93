"""The review page in a real browser: a harness that drives it in headless Chromium, and ``cxr-miliary bench review``.

Chromium (Debian's ``chromium``) loads a small harness page that holds the review page in
an iframe (``--allow-file-access-from-files`` lets the harness reach into it), runs a
script against it - set filters, press keys, read what is shown - and writes what it
found as JSON into its own DOM, which ``--dump-dom`` prints. No browser-driver package:
the browser and the standard library.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--enable-precise-memory-info",
]

HARNESS = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<iframe id="page" src="{src}" style="width:1400px;height:900px"></iframe><pre id="out"></pre>
<script>
var sleep = function (ms) {{ return new Promise(function (r) {{ setTimeout(r, ms); }}); }};
async function until(check, ms) {{ var end = Date.now() + (ms || 8000); while (Date.now() < end) {{ try {{ if (check()) return true; }} catch (e) {{}} await sleep(25); }} return false; }}
async function main() {{
  var frame = document.getElementById("page");
  await until(function () {{ return frame.contentDocument && frame.contentDocument.body && frame.contentDocument.body.dataset.ready === "true"; }}, 15000);
  var win = frame.contentWindow, doc = frame.contentDocument;
  var steps = async function (win, doc) {{ {steps} }};
  var out;
  try {{ out = await steps(win, doc); }} catch (e) {{ out = {{"harness_error": String(e && e.stack || e)}}; }}
  document.getElementById("out").textContent = JSON.stringify(out);
}}
main();
</script></body></html>"""


def chromium() -> str | None:
    """The Chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def drive(page: Path, steps: str, *, budget_ms: int = 30000, timeout_s: float = 180) -> dict[str, Any]:
    """Load ``page`` in headless Chromium and run ``steps`` (the body of ``async function (win, doc)``, returning an object).

    Returns:
        What ``steps`` returned (``{"harness_error": ...}`` when it threw).

    Raises:
        RuntimeError: No Chromium, or it printed no answer.
    """
    binary = chromium()
    if binary is None:
        raise RuntimeError("Chromium is not installed (apt install chromium)")
    with tempfile.TemporaryDirectory(prefix="review-harness-") as tmp:
        harness = page.parent / f".harness-{Path(tmp).name}.html"
        harness.write_text(HARNESS.format(src=page.name, steps=steps), encoding="utf-8")
        try:
            done = subprocess.run(
                [binary, *FLAGS, f"--user-data-dir={tmp}", f"--virtual-time-budget={budget_ms}", "--dump-dom", harness.resolve().as_uri()],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        finally:
            harness.unlink(missing_ok=True)
    text = done.stdout
    start, end = text.find('<pre id="out">'), text.find("</pre>")
    if start < 0 or end < 0 or start + 14 == end:
        raise RuntimeError(f"Chromium gave no answer: {done.stderr[-1500:]}")
    import html

    return json.loads(html.unescape(text[start + 14 : end]))


#: Measures the page as it opened, then jumps through the list in 20 steps: the time the page took to draw the rows in view
#: each time, and whether the row at the top of the view was there.
MEASURE = """
  var b = doc.body.dataset, list = doc.getElementById("list"), out = {};
  out.shown = Number(b.shown); out.first_paint_ms = Number(b.firstPaintMs); out.build_ms = Number(b.buildMs);
  out.heap_mb = b.heapMb ? Number(b.heapMb) : null; out.rows_in_dom = doc.querySelectorAll(".row").length;
  var times = [], placed = 0;
  for (var k = 1; k <= 20; k++) {
    list.scrollTop = (list.scrollHeight - list.clientHeight) * k / 20; list.dispatchEvent(new win.Event("scroll"));
    await new Promise(function (r) { setTimeout(r, 300); });
    void list.offsetHeight;  // layout done
    times.push(Number(b.renderMs));
    var rows = doc.querySelectorAll(".row"), top = list.scrollTop, covered = false;
    rows.forEach(function (d) { var y = parseFloat(d.style.top); if (y <= top && y + 56 > top) covered = true; });
    placed += covered ? 1 : 0;
  }
  times.sort(function (a, b) { return a - b; });
  out.scroll_frame_ms_median = times[10]; out.scroll_frame_ms_max = times[19]; out.jumps_drawn = placed;
  out.rows_in_dom_after_scroll = doc.querySelectorAll(".row").length;
  return out;
"""


def review_bench(n: int = 10_000, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """A page of ``n`` rows (made up, with ``score``'s columns; no pictures): build time, first paint, memory, scrolling."""
    import csv
    import random

    from ..review.page import build_review

    if chromium() is None:
        raise RuntimeError("Chromium is not installed (apt install chromium)")
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        table = root / "results.csv"
        cols = ["path", "probability", "positive", "threshold", "error", "reliable", "reasons", "warnings", "pattern", "right-upper", "left-lower"]
        with open(table, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for i in range(n):
                p = rng.random()
                err = "not-chest: not a frontal chest radiograph (lateral view)" if i % 97 == 0 else ""
                unrel = "out-of-distribution: distance 61.6 to the training data exceeds the limit 18.8" if i % 7 == 0 else ""
                w.writerow(
                    [
                        f"/archive/site-{i % 13}/study-{i:06d}/film-{i:06d}.dcm",
                        "" if err else f"{p:.4f}",
                        "" if err else p > 0.28,
                        0.28,
                        err,
                        "" if err else not unrel,
                        unrel,
                        "pixel spacing unknown | The image may be too coarse",
                        "diffuse-bilateral" if p > 0.28 else "none",
                        f"{rng.random() / 3:.3f}",
                        f"{rng.random() / 3:.3f}",
                    ]
                )
        page = root / "review.html"
        t = time.perf_counter()
        build_review(table, page, images=False)
        built = time.perf_counter() - t
        res = drive(page, MEASURE)
        res.update(rows=n, page_mb=page.stat().st_size / 2**20, python_build_s=built)
    log(
        f"review page of {n:,} rows ({res['page_mb']:.1f} MB, written in {built:.2f} s): first paint at {res['first_paint_ms']} ms "
        f"(script {res['build_ms']} ms), JS heap {res['heap_mb']} MB, {res['rows_in_dom']} rows in the DOM; scrolling: "
        f"drawing the rows in view {res['scroll_frame_ms_median']:.1f} ms median, {res['scroll_frame_ms_max']:.1f} ms worst of 20 jumps "
        f"({res['jumps_drawn']} of 20 drawn where the view was), "
        f"{res['rows_in_dom_after_scroll']} rows in the DOM"
    )
    return res
