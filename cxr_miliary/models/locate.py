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
    ``<prefix>/share/cxr-miliary/weights/<name>`` (installed wheel). When the variable is
    set it is the only place searched for the classifier: a typo must not fall back to
    the shipped phantom model.
    """
    out = []
    if os.environ.get(ENV):
        env = Path(os.environ[ENV])
        if (env / name / "card.json").exists():
            out.append(env / name)
        elif name == DEFAULT_NAME:  # the variable may name the classifier bundle itself; never another bundle
            return [env]

    out.append(Path(__file__).resolve().parents[2] / "weights" / name)
    out.append(Path(sys.prefix) / "share" / "cxr-miliary" / "weights" / name)
    return out


def find_default_bundle(name: str = DEFAULT_NAME) -> Path:
    """The first candidate holding a ``card.json``."""
    for path in default_bundle_candidates(name):
        if (path / "card.json").is_file():
            return path
    if name == DEFAULT_NAME and os.environ.get(ENV):
        raise FileNotFoundError(f"no bundle at {os.environ[ENV]} (named by {ENV}; a bundle folder holds card.json)")
    searched = ", ".join(str(p) for p in default_bundle_candidates(name))
    raise FileNotFoundError(f"no default model bundle found (searched {searched}); pass --weights or set {ENV}")
