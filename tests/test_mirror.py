"""Tests mirror the package: every module that holds logic has ``tests/<package>/test_<module>.py``.

A module that only re-exports (imports, ``__all__``, constants, a lazy ``__getattr__``) is a
face and needs none. ``python tests/test_mirror.py`` prints the modules without a test file.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cxr_miliary"


def _is_face(path: Path) -> bool:
    """Only imports, a docstring, ``__all__``/constants and a module ``__getattr__``: nothing to test on its own."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(isinstance(n, (ast.Call, ast.Lambda)) for n in ast.walk(node)):
            continue
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            continue
        return False
    return True


def expected_test(path: Path) -> Path:
    """The mirrored test file of a package module."""
    rel = path.relative_to(PACKAGE)
    name = rel.stem.lstrip("_")
    return ROOT / "tests" / rel.parent / f"test_{name}.py"


def untested() -> list[str]:
    """Logic modules without their mirrored test file."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py") or _is_face(path):
            continue
        if not expected_test(path).exists():
            out.append(f"{path.relative_to(ROOT)} -> {expected_test(path).relative_to(ROOT)}")
    return out


def test_every_logic_module_has_its_test_file():
    missing = untested()
    assert not missing, f"{len(missing)} module(s) without a mirrored test file:\n" + "\n".join(missing)


if __name__ == "__main__":
    print("\n".join(untested()) or "every logic module has its test file")
