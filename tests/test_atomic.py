"""Atomic writes: a file is whole or absent, never half-written; a full disk says so."""

from __future__ import annotations

import errno

import pytest

from cxr_miliary.atomic import WriteError, atomic_path, explain_write_error, is_no_space, root_errno, write_text


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
    assert write_text(target, "whole") == target and target.read_text() == "whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_the_errno_behind_wrapped_errors_decides_the_message(tmp_path):
    inner = OSError(errno.EDQUOT, "Disk quota exceeded")
    outer = RuntimeError("a library's wrapper")
    outer.__cause__ = inner
    assert root_errno(outer) == errno.EDQUOT and is_no_space(outer)
    err = explain_write_error(tmp_path / "x", OSError(errno.EROFS, "ro"))
    assert isinstance(err, WriteError) and "read-only" in str(err)
    other = explain_write_error(tmp_path / "x", OSError("With tag (7FE0,0010) got exception\nTraceback ..."))
    assert "Traceback" not in str(other) and str(tmp_path / "x") in str(other)
