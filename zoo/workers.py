"""Many independent units of work (SBC's simulations, ``zoo power``'s fits): in this process,
in spawned worker processes, or on a Dask cluster, each result yielded as it finishes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from zoo.errors import UsageError


def execute(function: Callable, tasks: list, jobs: int, scheduler: str | None,
            *extra) -> Iterator[tuple[Any, Any]]:
    """(task, function(task, *extra)) as each finishes: in this process (``jobs`` 1), in
    ``jobs`` spawned processes, or on the Dask cluster at ``scheduler``."""
    if not tasks:
        return
    if scheduler:
        yield from _on_dask(function, tasks, scheduler, extra)
    elif jobs == 1:
        for task in tasks:
            yield task, function(task, *extra)
    else:
        yield from _in_processes(function, tasks, jobs, extra)


def _in_processes(function, tasks, jobs, extra):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a numba-threaded process
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context)
    try:
        futures = {pool.submit(function, task, *extra): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:  # an error or Ctrl-C: stop the workers now (as zoo.pipeline.run_all)
        workers = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        raise
    pool.shutdown()


def dask_client(scheduler: str):
    """A Dask client of ``scheduler``, or one clear UsageError (Dask missing, no connection)."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install 'bayes-zoo[dask]'") from None
    try:
        return Client(scheduler, timeout="5s")
    except OSError as err:
        raise UsageError(f"--scheduler {scheduler}: cannot connect ({err})") from None


def _on_dask(function, tasks, scheduler, extra):
    from distributed import as_completed

    with dask_client(scheduler) as client:
        futures = {client.submit(function, task, *extra, pure=False): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
