"""What the commands share: argument types that say what is wrong."""

from __future__ import annotations

import argparse

import pytest

from cxr_miliary.cli._common import non_negative_float, non_negative_int, overlay_size, positive_float, positive_int, positive_seconds, unit_interval


@pytest.mark.parametrize(
    "fn, good, bad",
    [
        (positive_int, ("1", 1), ("0", "x", "1.5")),
        (non_negative_int, ("0", 0), ("-1",)),
        (positive_float, ("0.5", 0.5), ("0", "nan", "inf", "x")),
        (non_negative_float, ("0", 0.0), ("-0.1",)),
        (positive_seconds, ("2", 2.0), ("0",)),
        (unit_interval, ("1", 1.0), ("1.01", "-0.1", "nan")),
        (overlay_size, ("full", None), ("63", "big")),
    ],
)
def test_types_take_good_values_and_name_bad_ones(fn, good, bad):
    assert fn(good[0]) == good[1]
    for value in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            fn(value)
