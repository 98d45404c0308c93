"""Expanding inputs: folders by content, list files, and nothing special ever opened."""

from __future__ import annotations

import os
import socket

import pytest

from cxr_miliary.scoring.inputs import InputListError, expand_inputs


def test_folders_lists_and_special_files(tmp_path, phantom_dir):
    d = tmp_path / "archive"
    d.mkdir()
    dcm = (phantom_dir / "images" / "ph0021_000000.dcm").read_bytes()
    (d / "noext").write_bytes(dcm)  # DICOM by content
    (d / "readme.md").write_text("not an input")
    os.mkfifo(d / "pipe")  # opening it would block forever
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(d / "sock"))
    (d / "dangling.dcm").symlink_to(d / "gone.dcm")
    found = sorted(os.path.basename(p) for p in expand_inputs([d]))
    assert found == ["dangling.dcm", "noext", "pipe", "sock"]
    sock.close()
    lst = tmp_path / "list.txt"
    lst.write_text("# comment\narchive/noext\n\n/abs/missing.png\n")
    assert expand_inputs([lst]) == [str(tmp_path / "archive" / "noext"), "/abs/missing.png"]
    csv_list = tmp_path / "list.csv"
    csv_list.write_text("id,Path\n1,archive/noext\n2,\n")
    assert expand_inputs([csv_list]) == [str(tmp_path / "archive" / "noext")]


def test_bad_list_files_name_the_file(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9.png\n".encode("latin-1"))
    with pytest.raises(InputListError, match="latin.txt: the list file is not UTF-8"):
        expand_inputs([latin])
    nocol = tmp_path / "n.csv"
    nocol.write_text("file\na.png\n")
    with pytest.raises(InputListError, match="n.csv: a CSV list needs a 'path' column"):
        expand_inputs([nocol])


def test_names_the_system_refuses_are_inputs_not_crashes(tmp_path):
    long_name = str(tmp_path / ("x" * 300 + ".dcm"))
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert expand_inputs([long_name, loop]) == [long_name, str(loop)]
