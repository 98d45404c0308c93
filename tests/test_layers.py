"""The package's layers: every import (module level and inside functions) points down or across, never up, and nothing imports in a circle.

The layer order is written once, here (docs/architecture.md shows it). A package imports
only packages of its own layer or below; a module never imports the package root (it
re-exports the doors; ``cxr_miliary.version`` holds the version).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "cxr_miliary"

#: Lowest first. Names are the top-level modules and packages of cxr_miliary.
LAYERS: list[set[str]] = [
    {"version", "strict_json", "atomic", "workers", "intensity", "lung_zones", "verdicts", "knowledge", "metrics", "calibration"},
    {"io"},
    {"transforms"},
    {"phantom"},
    {"models"},
    {"explain"},
    {"inference"},  # one image: decode, checks, runtimes, one Result
    {"outputs"},  # the one writer of a result's files
    {"scoring"},  # many images: the stream, archives, tables, journals, options
    {"predictor"},  # the front door
    {"data", "evaluation", "insertion", "pacs", "review"},  # jobs built on the doors (the node is the third door)
    {"training"},
    {"bench", "cli", "__main__"},
]
#: Upward imports kept on purpose: a name's first home re-exports it from where it moved,
#: lazily (a module-level ``__getattr__``), so old spellings keep working.
SHIMS = {("inference", "predictor")}


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


MODULES = _modules()


def _targets(module: str, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            package = base if MODULES[module].name == "__init__.py" else base[:-1]
            package = package[: len(package) - (node.level - 1)]
            prefix = ".".join(package + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]
    else:
        return []
    out = []
    for name in names:
        while name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name.startswith("cxr_miliary") and name in MODULES and name != module:
            out.append(name)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at module level or in any function."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            graph[module].update(_targets(module, node))
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"cxr_miliary.{top} has no layer: add it to LAYERS in {Path(__file__).name}")


def test_every_package_has_a_layer():
    for module in MODULES:
        if _top(module):
            _layer(_top(module))


def test_no_import_points_up():
    upward = []
    for module, targets in import_graph().items():
        if not _top(module):
            continue  # the root package: the doors' faces
        for target in targets:
            a, b = _top(module), _top(target)
            if not b:
                upward.append(f"{module} -> cxr_miliary (the package root; import what it re-exports from where it lives)")
            elif _layer(b) > _layer(a) and (a, b) not in SHIMS:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports of a higher layer:\n" + "\n".join(sorted(upward))


def test_shims_are_lazy():
    """A kept spelling never imports upwards when its package is imported."""
    for a, b in SHIMS:
        tree = ast.parse(MODULES[f"cxr_miliary.{a}"].read_text(encoding="utf-8"))
        for node in tree.body:
            assert not any(_top(t) == b for t in _targets(f"cxr_miliary.{a}", node)), f"cxr_miliary.{a} imports {b} at import time"


def test_no_circles():
    graph = import_graph()
    shims = {(f"cxr_miliary.{a}", t) for a, b in SHIMS for t in graph.get(f"cxr_miliary.{a}", ()) if _top(t) == b}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if (v, w) in shims:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for v in list(MODULES):
        if v not in index:
            visit(v)
    assert not circles, "modules that import each other (directly or round a circle):\n" + "\n".join(" <-> ".join(c) for c in circles)


@pytest.mark.parametrize("old, new", [("cxr_miliary.inference", "Predictor"), ("cxr_miliary", "Predictor")])
def test_old_spellings_still_work(old, new):
    import importlib

    from cxr_miliary.predictor import Predictor

    assert getattr(importlib.import_module(old), new) is Predictor
