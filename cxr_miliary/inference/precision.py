"""Which numeric path to run: fp32, or bf16 autocast + channels_last where the hardware is native."""

from __future__ import annotations

import functools

import torch

PRECISIONS = ("auto", "fp32", "bf16")


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """True when the CPU executes bf16 natively (AVX512_BF16 or AMX); emulated bf16 is slower."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` on native-bf16 CPUs and bf16-capable GPUs, else ``fp32``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"
