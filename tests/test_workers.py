"""Worker processes: a block that fails stops its workers at once (they would otherwise
finish the fits they hold, minutes on a large model), found without the pool's private
attributes (issue 27.3)."""

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from zoo.core.workers import spawned_pool


def test_a_failing_block_stops_its_workers():
    """The workers are gone (reaped, not left running or as zombies) when the block's error
    leaves it; the test once read them while the pool's own thread was still reaping them."""
    before = set(multiprocessing.active_children())
    with pytest.raises(RuntimeError), spawned_pool(2) as pool:
        pids = {future.result() for future in [pool.submit(os.getpid) for _ in range(4)]}
        for _ in range(3):
            pool.submit(time.sleep, 600)
        raise RuntimeError("the consumer failed")
    assert pids and set(multiprocessing.active_children()) == before
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_a_pool_that_succeeds_returns_its_results():
    with spawned_pool(2) as pool:
        assert list(pool.map(abs, [-1, -2, 3])) == [1, 2, 3]
