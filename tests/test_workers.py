"""Jobs in worker processes keep their order; a forked child dies with its parent."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

from cxr_miliary.workers import die_with_parent, in_forked_child, run_jobs


def _square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_jobs_keep_their_order_in_processes_and_in_this_one():
    here = run_jobs(_square, range(7), workers=1)
    there = run_jobs(_square, range(7), workers=2, chunksize=1)
    assert [v for v, _ in here] == [v for v, _ in there] == [x * x for x in range(7)]
    assert {p for _, p in here} == {os.getpid()} and os.getpid() not in {p for _, p in there}


def _grandchild(queue) -> None:
    in_forked_child()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the grandchild: armed to die with its parent
        die_with_parent(parent)
        time.sleep(60)
        os._exit(0)
    queue.put(pid)
    time.sleep(60)


def test_a_child_dies_with_its_parent():
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    middle = ctx.Process(target=_grandchild, args=(queue,))
    middle.start()
    grandchild = queue.get(timeout=20)
    time.sleep(0.3)
    os.kill(middle.pid, signal.SIGKILL)
    middle.join(10)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("the grandchild outlived its parent")
