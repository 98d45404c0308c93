"""Strict JSON everywhere: no NaN or Infinity in anything cxr-miliary writes.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which strict parsers (and
most languages) reject. Non-finite floats become ``null``; numpy scalars and arrays become
plain numbers and lists; anything else unknown becomes its string.
"""

from __future__ import annotations

import json
import math
from typing import Any


def jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps(..., allow_nan=False)`` accepts."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return jsonable(obj.tolist())
    return str(obj)


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`jsonable` with ``allow_nan=False``."""
    return json.dumps(jsonable(obj), allow_nan=False, **kwargs)
