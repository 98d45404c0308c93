"""The peer bench's clock: whole processes, wall time."""

from __future__ import annotations

import sys

from cxr_miliary.bench.peer import _wall


def test_a_whole_process_is_timed():
    quick = _wall([sys.executable, "-c", "pass"])
    slow = _wall([sys.executable, "-c", "import time; time.sleep(0.5)"])
    assert 0 < quick < slow and slow >= 0.5
