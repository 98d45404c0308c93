"""Run independent jobs in worker processes, in order, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from tqdm import tqdm

J = TypeVar("J")
R = TypeVar("R")


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
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(fn, jobs, chunksize=chunksize):
                    out.append(result)
                    bar.update()
        else:
            for job in jobs:
                out.append(fn(job))
                bar.update()
    return out
