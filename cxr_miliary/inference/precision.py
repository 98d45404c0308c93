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


def resolve_device(device: str | None) -> str:
    """``"auto"`` -> ``"cuda"`` when a usable GPU is there, else ``"cpu"``; other names as given.

    Without an NVIDIA driver on the machine the answer is ``"cpu"`` without importing torch
    (an ONNX Runtime deployment never pays torch's import).
    """
    if device not in (None, "auto"):
        return str(device)
    import os

    if not os.path.exists("/proc/driver/nvidia/version") and not os.environ.get("CUDA_VISIBLE_DEVICES"):
        return "cpu"
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
