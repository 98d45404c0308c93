"""The data benches: phantom rendering and the cache, measured and reported."""

from __future__ import annotations

from cxr_miliary.bench.data import cache_speed, phantom_speed


def test_rendering_and_the_cache_are_measured():
    lines: list[str] = []
    res = phantom_speed(2, 96, log=lines.append)
    assert all(v > 0 for v in res.values() if isinstance(v, float)) and lines
    cache = cache_speed(2, 128, 64, log=lines.append)
    assert cache and all(v > 0 for v in cache.values() if isinstance(v, float))
