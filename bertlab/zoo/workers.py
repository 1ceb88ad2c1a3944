"""Run one function over many zoo models, several at a time, each in its own process.

Training and measuring a model are single-threaded on purpose (`training.THREADS`), so on a
machine with N cores N models go at once, in spawned processes (a fresh interpreter each: no
torch state is shared). Results are the same whatever the number of jobs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

from tqdm.auto import tqdm

__all__ = ["DEFAULT_JOBS", "in_processes"]

#: One job per CPU core this process may use (all cores where the OS cannot say).
DEFAULT_JOBS = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1)


def in_processes(function: Callable, items: Sequence[Hashable], *, jobs: int = DEFAULT_JOBS,
                 desc: str = "zoo", progress: bool = True) -> Iterator[tuple[Hashable, object]]:
    """Yield ``(item, function(item))`` for every item as each finishes, `jobs` at a time.

    `function` must be importable (defined at a module's top level); with ``jobs == 1`` it runs
    here, in this process. A tqdm bar counts the finished items.
    """
    bar = tqdm(total=len(items), desc=desc, unit="model", disable=not progress)
    with bar:
        if jobs == 1:
            for item in items:
                yield item, function(item)
                bar.update()
            return
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(function, item): item for item in items}
            for future in as_completed(futures):
                yield futures[future], future.result()
                bar.update()
