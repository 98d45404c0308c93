"""Synthetic chest radiographs with ground truth (``cxr-miliary phantom``).

A controlled test bench: anatomy varied per image, miliary and reticulonodular positives
from florid to subtle, and confounders that defeat texture or blob shortcuts. Names load
on first use (PEP 562): listing the patterns does not load the renderer.
"""

from __future__ import annotations

import importlib
from typing import Any

from .patterns import ALL_PATTERNS, DIFFICULTIES, NEGATIVE_PATTERNS, POSITIVE_PATTERNS

_LAZY = {"Phantom": ".generator", "render_phantom": ".generator", "contact_sheet": ".contact_sheet", "generate_phantoms": ".writer"}

__all__ = [
    "ALL_PATTERNS",
    "DIFFICULTIES",
    "NEGATIVE_PATTERNS",
    "POSITIVE_PATTERNS",
    "Phantom",
    "contact_sheet",
    "generate_phantoms",
    "render_phantom",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # over the submodule of the same name the import system set
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
