"""The insertion bench, at toy size: both arms train, both measurements report."""

from __future__ import annotations

import pytest

from cxr_miliary.bench.insertion import insertion_bench

pytestmark = pytest.mark.slow


def test_both_measurements_report_figures():
    res = insertion_bench(n_train=16, n_test=12, size=64, render=128, epochs=1, log=lambda *_: None)
    assert {"transfer_rendered positives", "transfer_inserted positives only"} <= set(res)
    assert all(0.0 <= v["auroc"] <= 1.0 for k, v in res.items() if k.startswith("transfer_") and v["auroc"] is not None)
