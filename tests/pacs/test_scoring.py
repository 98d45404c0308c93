"""The node's scorer: the queue as a source, suspects scored one at a time, a film that kills the scorer never replayed."""

from __future__ import annotations

import os
import time

from cxr_miliary.pacs.node import arrivals
from cxr_miliary.pacs.queue import NodeState
from cxr_miliary.pacs.scoring import Arrivals, node_options
from cxr_miliary.scoring.stream import FLUSH, WAIT


def test_each_queued_film_once_then_wait_then_flush(tmp_path):
    state = NodeState(tmp_path)
    for k in ("k1", "k2"):
        state.enqueue(k, b"film")
    old = time.time() - 60
    os.utime(state.queue / "k1.dcm", (old, old))
    source = arrivals(state, {"k0"}, gather_s=0.5)
    first = [next(source), next(source)]
    assert [(i, os.path.basename(p)) for i, p in first] == [(0, "k1.dcm"), (1, "k2.dcm")]  # oldest first, numbered
    assert next(source) == WAIT  # k2 has just arrived: more may follow
    state.enqueue("k3", b"film")
    assert next(source)[0] == 2 and next(source) == WAIT
    time.sleep(0.6)
    assert next(source) == FLUSH  # quiet for gather_s
    state.enqueue("k0", b"film")  # already scored before (a re-sent image): not again, and not an arrival
    assert next(source) == FLUSH


def test_suspects_go_first_and_alone_until_their_row_is_recorded(tmp_path):
    state = NodeState(tmp_path)
    for k in ("a", "b", "s"):
        state.enqueue(k, b"film")
    source = Arrivals(state, set(), {"s"}, gather_s=0.0)
    it = iter(source)
    assert os.path.basename(next(it)[1]) == "s.dcm"
    assert next(it) == FLUSH and next(it) == FLUSH  # nothing else while the suspect is in flight
    source.finished("s")
    assert sorted(os.path.basename(next(it)[1]) for _ in range(2)) == ["a.dcm", "b.dcm"]
    # what the scorer took is on record: "s" alone, the others in company
    state.record([{"key": "a"}, {"key": "b"}])
    suspects, crashed = state.suspects()
    assert suspects == {"s"} and crashed == {"s"}  # "s" had no row: a scorer died with it alone in flight


def test_a_clean_stop_clears_the_suspicion(tmp_path):
    state = NodeState(tmp_path)
    state.note_attempt("k", alone=True)
    state.note_clean_stop()
    assert state.suspects() == (set(), set())


def test_the_nodes_options_write_dicom_results_and_not_analysed_reports(tmp_path):
    opts = node_options(str(tmp_path), batch_size=4, workers=1, sr="basic")
    assert opts.batch_size == 4 and opts.num_workers == 1 and opts.max_gather_s
    assert opts.outputs.dicom_out == tmp_path / "dicom" and opts.outputs.not_analysed and opts.outputs.sr == "basic"
    assert opts.outputs.space_wait_s  # a full disk waits, it does not end the scorer
