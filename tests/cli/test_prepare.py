"""``cxr-miliary prepare``: the cache, and exit 1 when some images failed."""

from __future__ import annotations

from cxr_miliary.cli.main import main


def test_cli_prepare_exit_code(phantom_manifest, tmp_path):
    assert main(["--quiet", "prepare", "--manifest", str(phantom_manifest), "--size", "64", "--out", str(tmp_path / "c"), "--workers", "1"]) == 1
