"""Output paths are checked before work starts, with the path and the reason."""

from __future__ import annotations

import os

import pytest

from cxr_miliary.outputs.paths import OutputPathError, check_dir_target, check_file_target


def test_file_targets(tmp_path):
    assert check_file_target(tmp_path / "new" / "deeper" / "o.csv") == tmp_path / "new" / "deeper" / "o.csv"
    with pytest.raises(OutputPathError, match="is a folder"):
        check_file_target(tmp_path, "--out")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_file_target(tmp_path / "afile" / "o.csv")


def test_dir_targets(tmp_path):
    check_dir_target(tmp_path / "cams")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputPathError, match="afile: is a file; --cam-dir must be a folder"):
        check_dir_target(tmp_path / "afile", "--cam-dir")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(OutputPathError, match="not writable"):
        check_file_target(ro / "o.csv")
