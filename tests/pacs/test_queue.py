"""The node's journals: followed from an offset, and whole again after a kill mid-write."""

from __future__ import annotations

from cxr_miliary.pacs.queue import NodeState


def test_a_row_torn_by_a_kill_does_not_swallow_the_next(tmp_path):
    state = NodeState(tmp_path)
    state.enqueue("k1", b"image one")
    state.enqueue("k2", b"image two")
    state.record([{"key": "k1", "probability": 0.1}])
    with open(state.results, "ab") as fh:
        fh.write(b'{"key": "k2", "probab')  # killed mid-append: k2's image is still queued
    assert state.done_keys() == {"k1"} and {p.stem for p in state.pending()} == {"k2"}
    state.recover()
    state.record([{"key": "k2", "probability": 0.2}])
    assert state.done_keys() == {"k1", "k2"} and not state.pending()


def test_the_sender_reads_only_what_is_new(tmp_path):
    state = NodeState(tmp_path)
    state.record([{"key": "a"}, {"key": "b"}])
    rows, offset = state.new_results(0)
    assert [r["key"] for r in rows] == ["a", "b"] and offset == state.results.stat().st_size
    assert state.new_results(offset) == ([], offset)
    with open(state.results, "ab") as fh:
        fh.write(b'{"key": "c"}\n{"key": "d"')  # a row being written is not read yet
    rows, offset2 = state.new_results(offset)
    assert [r["key"] for r in rows] == ["c"] and offset2 < state.results.stat().st_size
