"""Many independent units of work (SBC's simulations, ``zoo power``'s fits): in this process,
in spawned worker processes, or on a Dask cluster, each result yielded as it finishes."""

from __future__ import annotations

import atexit
import gc
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

from zoo.core.errors import UsageError
from zoo.core.option_names import flag, given


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
    with spawned_pool(min(jobs, len(tasks))) as pool:
        futures = {pool.submit(function, task, *extra): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()


@contextmanager
def spawned_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` fresh processes ("spawn": forking a process in which numba's or
    nutpie's threads already ran can hang). When the block fails or is interrupted, the
    workers are stopped at once instead of finishing the fits they hold."""
    context = _RecordingContext()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=lean_collector)
    try:
        yield pool
    except BaseException:
        for process in context.processes:
            process.terminate()
        # then wait for the pool's own thread, which reaps them: until it has, a process it
        # reaped may still look alive to another thread (waitpid's ECHILD reads as running)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()


def lean_collector() -> None:
    """Garbage collection for a process of the zoo's own (the command, a worker), which ends
    when its work is done. Full collections 10 times rarer: each walks the ~300,000 objects
    PyMC, PyTensor and numba made (0.65 of a warm verify's 5 CPU-s, peak memory unchanged).
    None at its end (gc.freeze at exit): the shutdown's collections took 2.8-3.9 s of a warm
    verify at load 8, and 1.7 s of a pool's shutdown; the system frees the memory anyway."""
    gc.set_threshold(*gc.get_threshold()[:2], 100)
    atexit.register(gc.freeze)


class _RecordingContext:
    """The "spawn" multiprocessing context, keeping the processes it makes: the pool's
    ``mp_context`` makes its workers, and until Python 3.14's ``terminate_workers`` the pool
    has no public way to name them."""

    def __init__(self):
        self._spawn = multiprocessing.get_context("spawn")
        self.processes: list[multiprocessing.process.BaseProcess] = []

    def Process(self, *args, **kwargs):  # noqa: N802 (the context's own name)
        process = self._spawn.Process(*args, **kwargs)
        self.processes.append(process)
        return process

    def __getattr__(self, name: str):
        return getattr(self._spawn, name)


def dask_client(scheduler: str):
    """A Dask client of ``scheduler``, or one clear UsageError (Dask missing, no connection)."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(f"{flag('scheduler')} needs Dask: pip install 'bayes-zoo[dask]'") from None
    try:
        return Client(scheduler, timeout="5s")
    except OSError as err:
        raise UsageError(f"{given('scheduler', scheduler)}: cannot connect ({err})") from None


def _on_dask(function, tasks, scheduler, extra):
    from distributed import as_completed

    with dask_client(scheduler) as client:
        futures = {client.submit(function, task, *extra, pure=False): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
