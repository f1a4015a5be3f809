"""One measured process of ``zoo bench``: its own compile caches, its wall time, the JSON it
printed, and the machine's load when it started (2 CPUs shared with other work inflate every
time, so each figure carries the load it was measured under)."""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from zoo.core.errors import EnvironmentProblem

Row = dict[str, Any]
#: per-run counts that are added up over repeats; every other number is a median
COUNTS = ("divergences", "stuck_chains")


class RunFailed(EnvironmentProblem):
    """A measured process did not give its figures: it failed, was killed, or was stopped at
    the bench's time cap. Not the user's input (exit status 3, not 2); its last lines say
    why."""


class Capped(RunFailed):
    """A process stopped at the bench's time cap (a baseline that would run for hours)."""


def cache_env(cache: Path | None) -> dict[str, str]:
    """The environment with PyTensor's compile directory, Numba's cache and the zoo's
    reference cache under ``cache`` (None: the user's own, warm caches)."""
    env = dict(os.environ)
    if cache is not None:
        flags = [env.get("PYTENSOR_FLAGS", ""), f"base_compiledir={cache / 'pytensor'}"]
        env["PYTENSOR_FLAGS"] = ",".join(f for f in flags if f)
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
        env["ZOO_CACHE_DIR"] = str(cache / "zoo")
    return env


def load_average() -> float:
    """The 1-minute load average (/proc/loadavg's first field)."""
    return os.getloadavg()[0]


def timed_process(command: list[str], env: dict[str, str],
                  timeout: float | None = None) -> tuple[float, dict]:
    """Whole-process wall time and the JSON the process printed (its last line, or all of it)."""
    begin = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Capped(f"bench: {shlex.join(command[1:])} stopped at its cap of {timeout:.0f} s") from None
    wall = time.perf_counter() - begin
    text = done.stdout.strip()
    # 1 is a failed zoo check (still measured), but also a Python traceback: JSON decides
    if done.returncode in (0, 1) and text:
        for candidate in (text, text.splitlines()[-1]):
            try:
                return wall, json.loads(candidate)
            except json.JSONDecodeError:
                pass
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    raise RunFailed(f"bench: {shlex.join(command[1:])} failed ({done.returncode}): {tail}")


def measured(command: list[str], cache: Path | None, timeout: float | None = None) -> Row:
    """One process: its wall time, the load average as it started, and what it printed."""
    load = load_average()
    wall, doc = timed_process(command, cache_env(cache), timeout)
    return {"wall": wall, "load": load, "doc": doc}


def one_process_command(side: str, models: list[str], seed: int, cores: str,
                        extra: list[str]) -> list[str]:
    """``zoo.benchmarks.one_process``: several models fitted back to back in one process."""
    return [sys.executable, "-m", "zoo.benchmarks.one_process", side, *models, "--seed", str(seed),
            "--cores", cores, *extra]


def combine(rows: list[Row]) -> Row:
    """Medians over repeats, with each number's [min, max] in ``spread``; counts added up;
    ``passed`` only if every repeat passed."""
    out: Row = {}
    spread = {}
    for key, first in rows[0].items():
        values = [r[key] for r in rows]
        if key in COUNTS:
            out[key] = sum(values)
        elif isinstance(first, bool):
            out[key] = all(values)
        elif isinstance(first, int | float):
            out[key] = statistics.median(values)
            spread[key] = [min(values), max(values)]
        else:
            out[key] = first
    if len(rows) > 1:
        out["spread"] = spread
    return out


def with_loads(rows: list[Row]) -> Row:
    """:func:`combine`, keeping every load average rather than their median."""
    out = combine([{k: v for k, v in row.items() if k != "load"} for row in rows])
    return {**out, "loads": [row["load"] for row in rows]}
