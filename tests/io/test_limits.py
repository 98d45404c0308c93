"""The limits inputs are held to can be set by the environment, and a bad setting falls back, loudly or not at all."""

from __future__ import annotations

import importlib


def test_limits_follow_the_environment_and_refuse_nonsense(monkeypatch):
    import cxr_miliary.io.limits as limits

    monkeypatch.setenv("CXR_MILIARY_MAX_PIXELS", "12345")
    assert importlib.reload(limits).DEFAULT_MAX_PIXELS == 12345
    monkeypatch.setenv("CXR_MILIARY_MAX_PIXELS", "not a number")
    assert importlib.reload(limits).DEFAULT_MAX_PIXELS == 100_000_000
    monkeypatch.delenv("CXR_MILIARY_MAX_PIXELS")
    importlib.reload(limits)
    assert limits.MAX_INFLATED_BYTES > 2 * limits.DEFAULT_MAX_PIXELS and limits.FILE_TIMEOUT_S > 0
