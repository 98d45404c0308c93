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


def test_an_output_that_is_an_input_is_refused_before_any_work(tiny_bundle, phantom_dir, tmp_path, capsys):
    from cxr_miliary.cli.main import main

    img = tmp_path / "x.dcm"
    img.write_bytes((phantom_dir / "images" / "ph0021_000001.dcm").read_bytes())
    png = tmp_path / "x.png"
    png.write_bytes((phantom_dir / "images" / "ph0021_000001.png").read_bytes())
    before = {p: p.read_bytes() for p in (img, png)}
    for argv in (["predict", str(img), "--json", str(img)], ["predict", str(img), "--cam", str(img)], ["predict", str(png), "--cam", str(png)]):
        assert main(["--quiet", *argv, "--weights", str(tiny_bundle)]) == 2
        assert "is an input of this run" in capsys.readouterr().err
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{img},1\n")
    before[manifest] = manifest.read_bytes()
    assert main(["--quiet", "score", str(manifest), "--out", str(manifest), "--weights", str(tiny_bundle)]) == 2
    assert "is an input of this run" in capsys.readouterr().err
    assert all(p.read_bytes() == data for p, data in before.items())  # nothing destroyed


def test_output_folders_inside_a_scored_folder_are_refused(tiny_bundle, phantom_dir, tmp_path, capsys):
    from cxr_miliary.cli.main import main

    folder = tmp_path / "films"
    folder.mkdir()
    (folder / "a.dcm").write_bytes((phantom_dir / "images" / "ph0021_000001.dcm").read_bytes())
    for option in ("--cam-dir", "--dicom-out"):
        code = main(["--quiet", "score", str(folder), "--out", str(tmp_path / "s.csv"), option, str(folder / "out"), "--weights", str(tiny_bundle)])
        assert code == 2 and "a folder being scored" in capsys.readouterr().err
    assert not (folder / "out").exists()


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_an_output_folder_that_is_a_broken_link_is_a_clear_error(tmp_path, kind):
    link = tmp_path / "cams"
    if kind == "dangling":
        link.symlink_to(tmp_path / "nowhere")
    else:
        link.symlink_to(tmp_path / "cams2")
        (tmp_path / "cams2").symlink_to(link)
    with pytest.raises(OutputPathError, match=str(link)):
        check_dir_target(link, "--cam-dir")
