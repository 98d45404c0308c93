"""The training bench's worker lists."""

from __future__ import annotations

import pytest

from cxr_miliary.bench.training import parse_workers


def test_worker_lists():
    assert parse_workers("0, 4,8") == (0, 4, 8)
    for bad in ("", "a,b", "-1"):
        with pytest.raises(ValueError, match="worker counts"):
            parse_workers(bad)
