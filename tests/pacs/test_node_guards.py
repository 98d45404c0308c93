"""The node's guards, without a network: re-sent images, the disk reserve, one node per folder, leftovers, settings, callers."""

from __future__ import annotations

import errno
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hostile_films import DX, copy, header, variant

from cxr_miliary.pacs.accept import OUT_OF_RESOURCES, SUCCESS
from cxr_miliary.pacs.node import ModelSpec, Node
from cxr_miliary.pacs.queue import NodeState
from cxr_miliary.pacs.settings import Limits

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


def test_temporaries_left_by_a_kill_are_removed_at_start(tmp_path):
    """Class 17."""
    state = NodeState(tmp_path)
    (state.incoming / "tmpab12.dcm").write_bytes(b"half a film")
    (state.queue / ".k1.dcm.123.1.0.tmp").write_bytes(b"half")
    (state.dicom / ".x.dcm.1.2.3.tmp").write_bytes(b"half")
    state.enqueue("k2", b"a whole film")
    assert state.clean_temporaries() == 3
    assert [p.name for p in state.queue.rglob("*") if p.is_file()] == ["k2.dcm"] and not list(state.dicom.iterdir())


def test_a_full_disk_is_called_no_space_even_through_pydicom(tmp_path):
    """Class 2: pydicom re-raises a write failure without its errno; the message still says "no space left"."""
    from cxr_miliary.atomic import explain_write_error, is_no_space

    inner = OSError(errno.ENOSPC, "No space left on device")
    wrapped = OSError("With tag (7FE0,0010) got exception: [Errno 28] No space left on device\nTraceback ...")
    wrapped.__cause__ = inner
    err = explain_write_error(tmp_path / "x.dcm", wrapped)
    assert is_no_space(wrapped) and err.errno == errno.ENOSPC and "no space left" in str(err) and "Errno 5" not in str(err)
