"""A structured, versioned knowledge base written from the clinical reference (data, not prose in code)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str = "miliary") -> dict[str, Any]:
    """The knowledge record ``name`` (``knowledge/<name>.json`` inside the package)."""
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def differential(name: str = "miliary") -> list[dict[str, Any]]:
    """Differential diagnosis by category."""
    return [dict(d) for d in load(name)["differential"]]
