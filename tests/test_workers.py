"""Worker processes: a block that fails stops its workers at once (they would otherwise
finish the fits they hold, minutes on a large model), found without the pool's private
attributes (issue 27.3)."""

import multiprocessing
import time

import pytest

from zoo.core.workers import spawned_pool


def test_a_failing_block_stops_its_workers():
    before = set(multiprocessing.active_children())
    with pytest.raises(RuntimeError), spawned_pool(2) as pool:
        for _ in range(3):
            pool.submit(time.sleep, 600)
        raise RuntimeError("the consumer failed")
    workers = set(multiprocessing.active_children()) - before
    for worker in workers:
        worker.join(timeout=30)  # SIGTERM was sent; a sleeping worker dies at once
    assert workers and not [w for w in workers if w.is_alive()]


def test_a_pool_that_succeeds_returns_its_results():
    with spawned_pool(2) as pool:
        assert list(pool.map(abs, [-1, -2, 3])) == [1, 2, 3]
