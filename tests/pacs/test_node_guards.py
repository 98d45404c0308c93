"""The node's guards, without a network: re-sent images, the disk reserve, one node per folder, leftovers, settings, callers."""

from __future__ import annotations

import errno
import multiprocessing as mp
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hostile_films import DX, copy, header, variant

from cxr_miliary.cli.main import main
from cxr_miliary.pacs.accept import OUT_OF_RESOURCES, SUCCESS
from cxr_miliary.pacs.associations import Gatekeeper
from cxr_miliary.pacs.node import ModelSpec, Node
from cxr_miliary.pacs.queue import NodeBusy, NodeState
from cxr_miliary.pacs.settings import DEFAULT_HOST, Limits

pytest.importorskip("pynetdicom")


def _event(path: Path, tmp: Path, instance: str | None = None):
    """What pynetdicom hands the C-STORE handler: the data set received to a file, the command's UIDs."""
    received = copy(path, tmp / ".incoming" / f"{time.monotonic_ns()}.dcm")
    h = header(path)
    request = SimpleNamespace(AffectedSOPClassUID=DX, AffectedSOPInstanceUID=instance or str(h.SOPInstanceUID))
    return SimpleNamespace(dataset_path=str(received), request=request, assoc=object())


@pytest.fixture
def node(tmp_path, monkeypatch):
    n = Node(ModelSpec(), tmp_path / "node", port=0)
    monkeypatch.setattr(n, "accepting", lambda: True)  # as if a scorer ran
    return n


def test_a_resent_image_is_scored_again_only_when_its_content_changed(node, film, tmp_path):
    """Class 6: the key is the data set's SOP Instance UID and its content."""
    assert node._on_store(_event(film, tmp_path)) == SUCCESS
    assert node._on_store(_event(film, tmp_path)) == SUCCESS  # the same image again before it was scored: one queued file
    assert len(node.state.pending()) == 1
    corrected = variant(film, tmp_path / "corrected.dcm", PatientName="CORRECTED^NAME")  # a PACS re-sends it with a corrected header
    assert node._on_store(_event(corrected, tmp_path)) == SUCCESS
    keys = {p.stem for p in node.state.pending()}
    assert len(keys) == 2  # scored again, as a new image
    node._on_row({"key": sorted(keys)[0]})
    for p in node.state.pending():
        p.unlink()
    node._done = set(keys)  # both scored
    assert node._on_store(_event(film, tmp_path)) == SUCCESS and node._on_store(_event(corrected, tmp_path)) == SUCCESS
    assert not node.state.pending()  # an identical re-send after scoring is acknowledged and not scored twice


def test_the_disk_reserve_refuses_while_results_still_have_room(node, film, tmp_path, monkeypatch):
    """Class 2: films are refused 0xA700 before the disk is so full that their results could not be written."""
    second = variant(film, tmp_path / "second.dcm", SOPInstanceUID="1.2.826.0.1.3680043.8.498.77", InstanceNumber=2)
    third = variant(film, tmp_path / "third.dcm", SOPInstanceUID="1.2.826.0.1.3680043.8.498.78", InstanceNumber=3)
    per_film = node._per_film
    free = {"n": int(third.stat().st_size + 3 * per_film + node.limits.reserve_bytes) - 1}  # room for two films and their results, not three
    monkeypatch.setattr(node.state, "free_bytes", lambda: free["n"])
    assert node._on_store(_event(film, tmp_path)) == SUCCESS
    assert node._on_store(_event(second, tmp_path, "1.2.826.0.1.3680043.8.498.77")) == SUCCESS
    assert node._on_store(_event(third, tmp_path, "1.2.826.0.1.3680043.8.498.78")) == OUT_OF_RESOURCES
    free["n"] += int(per_film)  # a result went out and its files were deleted
    assert node._on_store(_event(third, tmp_path, "1.2.826.0.1.3680043.8.498.78")) == SUCCESS
    # the estimate follows what films' results really take
    out = tmp_path / "r.dcm"
    out.write_bytes(b"x" * 1000)
    node._on_row({"key": "k", "dicom_outputs": str(out)})
    assert node._per_film < per_film


def test_a_film_over_the_size_limit_is_refused(tmp_path, film, monkeypatch):
    """Class 11."""
    node = Node(ModelSpec(), tmp_path / "node", port=0, limits=Limits(max_film_bytes=film.stat().st_size - 1))
    monkeypatch.setattr(node, "accepting", lambda: True)
    assert node._on_store(_event(film, tmp_path)) == OUT_OF_RESOURCES


def test_no_film_is_acknowledged_while_no_scorer_runs(tmp_path, film):
    """Class 4: a dead scorer means 0xA700, never an acknowledgement nobody will act on."""
    node = Node(ModelSpec(), tmp_path / "node", port=0)
    assert not node.accepting() and node._on_store(_event(film, tmp_path)) == OUT_OF_RESOURCES


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


def test_temporaries_left_by_a_kill_are_removed_at_start(tmp_path):
    """Class 17."""
    state = NodeState(tmp_path)
    (state.incoming / "tmpab12.dcm").write_bytes(b"half a film")
    (state.queue / ".k1.dcm.123.1.0.tmp").write_bytes(b"half")
    (state.dicom / ".x.dcm.1.2.3.tmp").write_bytes(b"half")
    state.enqueue("k2", b"a whole film")
    assert state.clean_temporaries() == 3
    assert [p.name for p in state.queue.rglob("*") if p.is_file()] == ["k2.dcm"] and not list(state.dicom.iterdir())


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


def test_the_node_listens_on_this_machine_unless_told():
    """Class 12: 127.0.0.1 by default (see the README's 'Running the node safely')."""
    assert DEFAULT_HOST == "127.0.0.1" and Node(ModelSpec(), "unused", port=0).host == "127.0.0.1"
    with pytest.raises(SystemExit):
        main(["serve", "--port", "11112", "--max-film-mb", "0"])


class _Assoc:
    def __init__(self, address: str, title: str) -> None:
        self.requestor = SimpleNamespace(address=address, ae_title=title)


def test_the_gatekeeper_caps_callers_and_ends_idle_long_and_oversized_associations():
    """Class 5 and 11, on the gatekeeper's clock."""
    gate = Gatekeeper(Limits(per_caller=2, idle_s=10, lifetime_s=100, max_film_bytes=1000))
    slow = [_Assoc("10.0.0.1", "SLOW") for _ in range(5)]
    for a in slow:
        gate._opened(SimpleNamespace(assoc=a))
    modality = _Assoc("10.0.0.2", "MODALITY")
    gate._opened(SimpleNamespace(assoc=modality))
    now = time.monotonic()
    ended = {id(a): why for a, why in gate.verdicts(now)}
    assert len(ended) == 3 and id(modality) not in ended and all("from one caller" in w for w in ended.values())
    gate.stored(modality)
    for a in slow[:2]:
        gate._data(SimpleNamespace(assoc=a, data=b"x" * 100))  # an echo's bytes ...
        assert gate._echo(SimpleNamespace(assoc=a)) == 0  # ... answered: an echo does not make a caller active
    later = {id(a): why for a, why in gate.verdicts(now + 11)}
    assert id(slow[0]) in later and "no image stored" in later[id(slow[0])]
    gate.stored(modality)
    assert id(modality) not in {id(a) for a, _ in gate.verdicts(time.monotonic() + 5)}  # it stored a film 5 s ago
    assert "longer than" in dict((id(a), w) for a, w in gate.verdicts(now + 101))[id(modality)]
    big = _Assoc("10.0.0.3", "BIG")
    gate._opened(SimpleNamespace(assoc=big))
    gate._data(SimpleNamespace(assoc=big, data=b"x" * 2500))  # over twice the film limit while still arriving
    assert "still arriving" in dict((id(a), w) for a, w in gate.verdicts(time.monotonic()))[id(big)]


def test_a_full_disk_is_called_no_space_even_through_pydicom(tmp_path):
    """Class 2: pydicom re-raises a write failure without its errno; the message still says "no space left"."""
    from cxr_miliary.atomic import explain_write_error, is_no_space

    inner = OSError(errno.ENOSPC, "No space left on device")
    wrapped = OSError("With tag (7FE0,0010) got exception: [Errno 28] No space left on device\nTraceback ...")
    wrapped.__cause__ = inner
    err = explain_write_error(tmp_path / "x.dcm", wrapped)
    assert is_no_space(wrapped) and err.errno == errno.ENOSPC and "no space left" in str(err) and "Errno 5" not in str(err)
