"""The decode pipeline as a stream: items that keep coming, WAIT and FLUSH, one set of workers for the stream's life."""

from __future__ import annotations

import os
import time

import pytest

from cxr_miliary.scoring.stream import FLUSH, WAIT, decoded_batches


def _decode(item):
    """A stand-in decoder: which item, decoded by which process."""
    return item[0], os.getpid()


def _indices(batch):
    return [i for i, _ in batch]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_part_filled_batch_goes_on_flush_and_the_workers_stay(workers):
    got: list[list] = []

    def source():
        yield from [(0, "a"), (1, "b"), (2, "c")]
        while not got:  # nothing ready, none expected: the three go as a batch
            yield FLUSH
        yield from [(3, "d"), (4, "e"), (5, "f"), (6, "g"), (7, "h")]

    for batch in decoded_batches(_decode, source(), 4, workers):
        got.append(batch)
    assert [_indices(b) for b in got] == [[0, 1, 2], [3, 4, 5, 6], [7]]
    pids = {pid for b in got for _, pid in b}
    if workers:  # the same worker processes before and after the pause: no pool started again
        assert os.getpid() not in pids and len(pids) <= workers
    else:
        assert pids == {os.getpid()}


@pytest.mark.parametrize("workers", [0, 1])
def test_wait_holds_a_part_filled_batch_at_most_max_gather(workers):
    got: list[tuple[float, list]] = []
    start = time.monotonic()

    def source():
        yield (0, "a")
        while not got:  # more may come: gather, but not for ever
            yield WAIT

    for batch in decoded_batches(_decode, source(), 4, workers, max_gather_s=0.4):
        got.append((time.monotonic() - start, batch))
    ((after, batch),) = got
    assert _indices(batch) == [0] and 0.4 <= after < 5


def test_without_max_gather_wait_delivers_at_once():
    got: list[list] = []

    def source():
        yield (0, "a")
        while not got:
            yield WAIT

    start = time.monotonic()
    for batch in decoded_batches(_decode, source(), 4, 1):
        got.append(batch)
    assert [_indices(b) for b in got] == [[0]] and time.monotonic() - start < 5
