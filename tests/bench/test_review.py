"""``bench review``: a page of many rows measured in Chromium (a small one here)."""

from __future__ import annotations

import pytest

from cxr_miliary.bench.review import chromium, review_bench


@pytest.mark.skipif(chromium() is None, reason="Debian chromium not installed (make test installs it as root)")
def test_a_page_of_many_rows_draws_only_what_is_in_view():
    res = review_bench(600, log=lambda s: None)
    assert res["shown"] == 600 and res["first_paint_ms"] > 0
    assert res["rows_in_dom"] < 60 and res["rows_in_dom_after_scroll"] < 60  # not 600
    assert res["jumps_drawn"] == 20
