"""Networks and model bundles (timm + safetensors; no Lightning).

The card, the bundle's files and the reference need no torch; the network factory
(timm) is imported only when a name from it is first used, so a deployment that runs
on ONNX Runtime never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .bundle import BundleError, Card, load_bundle, load_card, read_card, save_bundle, sha256_file, update_card

_LAZY = {"cam_target_layer": ".factory", "create_model": ".factory", "head_name": ".factory"}

__all__ = [
    "BundleError",
    "Card",
    "cam_target_layer",
    "create_model",
    "head_name",
    "load_bundle",
    "load_card",
    "read_card",
    "save_bundle",
    "sha256_file",
    "update_card",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
