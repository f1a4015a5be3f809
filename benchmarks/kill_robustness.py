"""What survives when ``zoo run`` is killed, raced, interrupted or short of disk (issue 18).

    python benchmarks/kill_robustness.py [--kills 50] [--races 5] [--interrupts 10] [--json FILE]

- kill -9: ``zoo run single-coin`` killed with SIGKILL at a random moment, half of the trials
  anywhere in the run, half while it writes (after its console output, when posterior.nc,
  summary.md and result.json are being made); afterwards the output folder must hold either
  the previous complete output or the new complete one (three files, the new seed in
  result.json, posterior.nc readable with its log_likelihood and posterior_predictive).
- races: two ``zoo run`` processes with different seeds writing the same --out at once; one
  complete output must remain, and no staging folder.
- Ctrl-C: ``zoo run gmm`` sent SIGINT at a random moment of its first 25 s (imports,
  reference, compiling, sampling); it must exit 130 with one line and write nothing.
- destinations (as root, on tmpfs): read-only and 1 MB (full) are refused with one line and
  exit 2 before fitting; a disk filled while the run fits (after the pre-check) makes the
  write fail with one line and exit 2, the previous output kept.

Prints the counts; ``--json`` also writes them. The measured ones are in
benchmarks/kill_robustness.json (and docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ZOO = [sys.executable, "-m", "zoo"]
QUICK = ["--quiet", "--draws", "200", "--tune", "200"]
FILES = {"posterior.nc", "summary.md", "result.json"}


def start_run(out: Path, seed: int, model: str = "single-coin") -> subprocess.Popen:
    return subprocess.Popen([*ZOO, "run", model, "--out", str(out), "--seed", str(seed), *QUICK],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def snapshot(out: Path) -> dict[str, bytes] | None:
    return {p.name: p.read_bytes() for p in out.iterdir()} if out.is_dir() else None


def complete_with_seed(out: Path) -> int | None:
    """The seed of the complete output in ``out``, or None if it is not one complete output."""
    import arviz as az

    if not out.is_dir() or {p.name for p in out.iterdir()} != FILES:
        return None
    try:
        seed = json.loads((out / "result.json").read_text())["config"]["seed"]
        tree = az.from_netcdf(out / "posterior.nc")
        summary = (out / "summary.md").read_text()
    except Exception:  # noqa: BLE001 - any unreadable file means a broken output
        return None
    groups = set(tree.children)
    if not {"posterior", "log_likelihood", "posterior_predictive"} <= groups:
        return None
    return seed if f"seed {seed}" in summary else None


def leftovers(out: Path) -> list[str]:
    return [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}-")]


def timed_reference_run(out: Path) -> tuple[float, float]:
    """One complete run: (seconds to its first console line, seconds from there to exit)."""
    start = time.monotonic()
    process = start_run(out, seed=1)
    process.stdout.readline()
    printed = time.monotonic()
    process.communicate()
    assert process.returncode in (0, 1) and complete_with_seed(out) == 1
    return printed - start, time.monotonic() - printed


def kill_trials(folder: Path, trials: int, rng: random.Random) -> dict:
    folder.mkdir()
    out = folder / "out"
    to_print, to_exit = timed_reference_run(out)
    counts = {"previous": 0, "new": 0, "broken": 0, "killed while writing": 0,
              "staging folders left after a kill": 0, "staging folders left after the next run": 0}
    for trial in range(trials):
        before = snapshot(out)
        seed = 100 + trial
        process = start_run(out, seed)
        if trial % 2:  # while writing: after the console output
            process.stdout.readline()
            time.sleep(rng.uniform(0, to_exit))
            counts["killed while writing"] += 1
        else:
            time.sleep(rng.uniform(0, to_print + to_exit))
        process.kill()
        process.wait()
        counts["staging folders left after a kill"] += bool(leftovers(out))
        if snapshot(out) == before:
            counts["previous"] += 1
        elif complete_with_seed(out) == seed:
            counts["new"] += 1
        else:
            counts["broken"] += 1
            print(f"trial {trial}: broken output {sorted(os.listdir(out))}", file=sys.stderr)
    final = start_run(out, seed=999)  # the next run removes what the killed ones left
    final.communicate()
    counts["staging folders left after the next run"] = len(leftovers(out))
    return {"trials": trials, "seconds to console": round(to_print, 1),
            "seconds console to exit": round(to_exit, 1), **counts}


def race_trials(folder: Path, trials: int) -> dict:
    counts = {"one complete output": 0, "broken": 0, "both exited 0 or 1": 0, "staging left": 0}
    for trial in range(trials):
        out = folder / f"race-{trial}"
        processes = [start_run(out, seed) for seed in (200 + trial, 300 + trial)]
        codes = [p.communicate() and p.returncode for p in processes]
        counts["both exited 0 or 1"] += all(code in (0, 1) for code in codes)
        counts["one complete output"] += complete_with_seed(out) in (200 + trial, 300 + trial)
        counts["broken"] += complete_with_seed(out) is None
        counts["staging left"] += bool(leftovers(out))
    return {"trials": trials, **counts}


def interrupt_trials(folder: Path, trials: int, rng: random.Random) -> dict:
    counts = {"exit 130": 0, "one line": 0, "nothing written": 0, "finished before the signal": 0,
              "during Python's start-up imports (before zoo's handler)": 0}
    for trial in range(trials):
        out = folder / f"interrupted-{trial}"
        process = start_run(out, seed=400 + trial, model="gmm")
        time.sleep(rng.uniform(2, 25))
        if process.poll() is not None:
            counts["finished before the signal"] += 1
            shutil.rmtree(out, ignore_errors=True)
            continue
        process.send_signal(signal.SIGINT)
        _, err = process.communicate()
        if process.returncode == -signal.SIGINT and "zoo: interrupted" not in err:
            counts["during Python's start-up imports (before zoo's handler)"] += 1
        counts["exit 130"] += process.returncode == 130
        counts["one line"] += err.count("\n") == 1 and "interrupted" in err
        counts["nothing written"] += not out.exists() and not leftovers(out)
        if process.returncode != 130 or err.count("\n") != 1:
            print(f"interrupt {trial}: exit {process.returncode}: {err[-500:]}", file=sys.stderr)
    return {"trials": trials, **counts}


@contextmanager
def tmpfs(folder: Path, *options: str):
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def refused(out: Path) -> tuple[bool, str]:
    process = start_run(out, seed=5)
    stdout, err = process.communicate()
    ok = process.returncode == 2 and err.count("\n") == 1 and not stdout
    return ok, err.strip()


def destination_trials(folder: Path) -> dict:
    """Read-only and full destinations, and a disk that fills during the fit (root only)."""
    if os.geteuid() != 0:
        return {"skipped": "needs root to mount tmpfs"}
    found = {}
    with tmpfs(folder / "ro", "ro", "size=1m") as ro:
        found["read-only: one line, exit 2, before fitting"], found["read-only message"] = refused(ro / "out")
    with tmpfs(folder / "small", "size=1m") as small:
        found["full (1 MB): one line, exit 2, before fitting"], found["full message"] = refused(small / "out")
    with tmpfs(folder / "filling", "size=80m") as filling:
        out = filling / "out"
        out.mkdir()
        (out / "result.json").write_text('{"previous": true}')
        process = start_run(out, seed=6)
        process.stdout.readline()  # fitted: past the free-space check; now the disk fills up
        with open(filling / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 2**20)
            except OSError:
                pass
        _, err = process.communicate()
        found["filled while fitting: exit 2, one line"] = process.returncode == 2 and err.count("\n") == 1
        found["filled while fitting: previous output kept"] = snapshot(out) == {"result.json": b'{"previous": true}'}
        found["filled while fitting: message"] = err.strip()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--races", type=int, default=5)
    parser.add_argument("--interrupts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="zoo-kill-") as temporary:
        folder = Path(temporary)
        results = {
            "kill -9 of zoo run single-coin": kill_trials(folder / "kills", args.kills, rng),
            "two zoo runs writing one --out": race_trials(folder, args.races),
            "Ctrl-C (SIGINT) of zoo run gmm": interrupt_trials(folder, args.interrupts, rng),
            "destinations": destination_trials(folder),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load average": os.getloadavg(),
        }
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
