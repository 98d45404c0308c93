"""The node's settings: checked before anything starts, never failing open."""

from __future__ import annotations

import pytest

from cxr_miliary.cli.main import main
from cxr_miliary.pacs.node import ModelSpec, Node
from cxr_miliary.pacs.settings import DEFAULT_HOST, Destination, Limits, ae_title, allow_list, host

pytest.importorskip("pynetdicom")


def test_the_node_listens_on_this_machine_unless_told(tmp_path):
    """Class 12: 127.0.0.1 by default (see the README's 'Running the node safely')."""
    # the node makes its folders when built: in tmp_path, not the checkout
    assert DEFAULT_HOST == "127.0.0.1" and Node(ModelSpec(), tmp_path / "node", port=0).host == "127.0.0.1"
    with pytest.raises(SystemExit):
        main(["serve", "--port", "11112", "--max-film-mb", "0"])


def test_the_parsers_say_why():
    assert ae_title(" PACS ") == "PACS" and allow_list("A, B,,") == ["A", "B"] and host("127.0.0.1") == "127.0.0.1"
    assert Destination.parse("pacs.local:104:ORTHANC") == Destination("pacs.local", 104, "ORTHANC")
    for bad in ("pacs:104", "pacs:0:AE", "pacs:x:AE"):
        with pytest.raises(ValueError, match="HOST:PORT:AE"):
            Destination.parse(bad)
    with pytest.raises(ValueError):
        Limits(per_caller=0)
