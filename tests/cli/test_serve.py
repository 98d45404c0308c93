"""``cxr-miliary serve`` as a command: settings checked before anything starts, one node per folder."""

from __future__ import annotations

import multiprocessing as mp
import threading

import pytest

from cxr_miliary.cli.main import main
from cxr_miliary.pacs.queue import NodeBusy, NodeState

pytest.importorskip("pynetdicom")


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--allow-ae", ","], "names no AE title"),
        (["--allow-ae", " "], "names no AE title"),
        (["--ae-title", "A\\B"], "without a backslash"),
        (["--ae-title", "ÄÖÜ"], "printable ASCII"),
        (["--ae-title", "X" * 17], "at most 16"),
        (["--allow-ae", "GOOD,ÄÖÜ"], "printable ASCII"),
        (["--host", "no such host!"], "not an IP address"),
        (["--dest", "pacs:104:ÄÖÜ"], "printable ASCII"),
    ],
)
def test_settings_that_fail_open_or_hang_are_refused_before_anything_starts(tmp_path, tiny_bundle, capsys, argv, says):
    """Class 12: exit 2 at once, naming the setting; nothing listens, no scorer starts."""
    started = threading.active_count()
    code = main(["serve", "--port", "11112", "--out", str(tmp_path / "n"), "--weights", str(tiny_bundle), *argv])
    assert code == 2 and says in capsys.readouterr().err
    assert threading.active_count() == started


def _hold(out: str, held, release) -> None:
    state = NodeState(out)
    state.lock()
    held.set()
    release.wait(30)


def test_two_nodes_cannot_share_one_out(tmp_path, tiny_bundle, capsys):
    """Class 9: the second node refuses to start, with exit 2 and the reason."""
    ctx = mp.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    other = ctx.Process(target=_hold, args=(str(tmp_path / "node"), held, release))
    other.start()
    try:
        assert held.wait(30)
        with pytest.raises(NodeBusy):
            NodeState(tmp_path / "node").lock()
        code = main(["serve", "--port", "11113", "--out", str(tmp_path / "node"), "--weights", str(tiny_bundle), "--precision", "fp32"])
        assert code == 2 and "another node is running" in capsys.readouterr().err
    finally:
        release.set()
        other.join(10)
    NodeState(tmp_path / "node").lock()  # free again once the other node is gone
