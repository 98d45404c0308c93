"""Numeric paths the Predictor offers, and whether this CPU runs bf16 natively."""

from __future__ import annotations

import functools

PRECISIONS = ("auto", "fp32", "bf16")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU executes bf16 natively (AVX512_BF16 or AMX); emulated bf16 is slower."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags
