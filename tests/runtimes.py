"""Pin the runtime a test's predict / score runs on: torch fp32, or ONNX Runtime through the fast path."""

from __future__ import annotations

from pathlib import Path

import pytest


def runtime_args(runtime: str, monkeypatch: pytest.MonkeyPatch, cache: Path) -> list[str]:
    """The CLI options that run on ``runtime`` (``torch`` or ``onnxruntime``); for ONNX Runtime the fast path is made to choose it."""
    if runtime == "torch":
        return ["--precision", "fp32"]
    import cxr_miliary.inference.fastpath as fastpath

    # the fast path reads the cached verdict: make it ONNX Runtime's
    monkeypatch.setattr(fastpath, "select", lambda figures, **k: "onnxruntime-fp32" if "onnxruntime-fp32" in figures else "torch-fp32")
    monkeypatch.setenv("CXR_MILIARY_CACHE", str(cache))
    return ["--precision", "auto"]
