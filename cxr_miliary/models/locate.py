"""Where the default bundles live (the classifier, the lung model): env var, checkout, or the installed package's data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "CXR_MILIARY_WEIGHTS"
DEFAULT_NAME = "default"


def default_bundle_candidates(name: str = DEFAULT_NAME) -> list[Path]:
    """Places searched for the default bundle, in order.

    ``$CXR_MILIARY_WEIGHTS``, ``<checkout>/weights/<name>``, then
    ``<prefix>/share/cxr-miliary/weights/<name>`` (installed wheel).
    """
    out = []
    if os.environ.get(ENV):
        env = Path(os.environ[ENV])
        if (env / name / "card.json").exists():
            out.append(env / name)
        elif name == DEFAULT_NAME:  # the variable may name the classifier bundle itself; never another bundle
            out.append(env)

    out.append(Path(__file__).resolve().parents[2] / "weights" / name)
    out.append(Path(sys.prefix) / "share" / "cxr-miliary" / "weights" / name)
    return out


def find_default_bundle(name: str = DEFAULT_NAME) -> Path:
    """The first candidate holding a ``card.json``."""
    for path in default_bundle_candidates(name):
        if (path / "card.json").is_file():
            return path
    searched = ", ".join(str(p) for p in default_bundle_candidates(name))
    raise FileNotFoundError(f"no default model bundle found (searched {searched}); pass --weights or set {ENV}")
