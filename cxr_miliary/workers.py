"""Run independent jobs in worker processes, in order, with a progress bar; and what every fork of ours does.

Forked children inherit the parent's objects, garbage included. A runtime object whose
threads live only in the parent (an ONNX Runtime session's thread pool) that is collected
in a child waits there forever for threads that do not exist: a test run hung in a
phantom worker on exactly that, collecting a session a previous test had dropped.
So the parent collects its garbage before it forks, and the child never collects what it
inherited.
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from tqdm import tqdm

J = TypeVar("J")
R = TypeVar("R")


def before_fork() -> None:
    """In the parent, just before forking: collect garbage here, where its threads live."""
    gc.collect()


def in_forked_child() -> None:
    """First thing in a forked child: never collect the objects inherited from the parent."""
    gc.freeze()


def run_jobs(fn: Callable[[J], R], jobs: Iterable[J], *, workers: int = 1, desc: str = "", progress: bool = False, chunksize: int = 4) -> list[R]:
    """Apply ``fn`` to every job, in ``workers`` processes when > 1; results keep the jobs' order.

    Args:
        fn: A picklable, module-level function.
        jobs: Its arguments, one per call.
        workers: Processes (1 runs in this process, which keeps tracebacks simple).
        desc: Progress bar label.
        progress: Show the bar on stderr.
        chunksize: Jobs handed to a worker at a time.

    Returns:
        ``[fn(job) for job in jobs]``.
    """
    jobs = list(jobs)
    out: list[R] = []
    with tqdm(total=len(jobs), desc=desc, unit="img", disable=not progress) as bar:
        if workers > 1:
            before_fork()
            with ProcessPoolExecutor(max_workers=workers, initializer=in_forked_child) as pool:
                for result in pool.map(fn, jobs, chunksize=chunksize):
                    out.append(result)
                    bar.update()
        else:
            for job in jobs:
                out.append(fn(job))
                bar.update()
    return out


def die_with_parent(parent: int) -> None:
    """End this (forked) process when its parent dies, however it dies (SIGTERM, SIGKILL, the OOM killer).

    Linux's parent-death signal: without it, decode workers of a ``score`` stopped by
    Docker, systemd, Slurm or ``timeout`` are reparented to PID 1 and live on, holding
    their memory. Elsewhere a no-op.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
