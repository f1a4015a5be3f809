"""``zoo bench``'s fixed cost per model (issue 26.4): what a verify costs beyond its work.

The work is sampling (every fit's), the reference and the diagnostics; the fixed cost is the
rest: the interpreter's start and exit, imports, building and compiling the model, the
log-density check, the checks and the output. Four figures per model, from processes of their
own that start with the model's caches (PyTensor's, Numba's, the references') empty:

- command, cold: ``zoo verify MODEL --json --quiet``: the process's wall time minus its work;
- command, warm: the same command again, in the caches the cold run filled;
- session, first: ``zoo.core.pipeline.run`` in a fresh process with those caches, after its
  imports (``zoo.benchmarks.one_process``): a notebook's first verify, imports done;
- session, again: the same model verified again in that process, which the session's compile
  cache serves (:mod:`zoo.core.compile_cache`).

Medians over the repeats with [min-max] and the load average as each process started.
``--quick`` measures the warm lines only, in the user's caches, with its tiny draws.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from zoo.core.progress_lines import say
from zoo.core.sampling import DEFAULT_SEED, SamplerConfig
from zoo.report.text import markdown_table
from zoo.tools.bench.runs import Row, RunFailed, measured, one_process_command, with_loads

#: the lines, in the order they run (each warm line reuses the cold line's caches)
LINES = {"command_cold": "command, cold", "command_warm": "command, warm",
         "session_first": "session, first", "session_again": "session, again"}
#: the issue's targets for single-coin: a warm command, and a verify again in a session
COMMAND_WARM_MAX_SECONDS = 5.0
AGAIN_MAX_SECONDS = 0.5
TARGET_MODEL = "single-coin"


def work(seconds: dict[str, float]) -> float:
    """The seconds of a run's ``seconds`` that are its answer: sampling, reference, diagnostics."""
    return seconds["sampling_total"] + seconds["reference"] + seconds["diagnostics"]


def fixed_costs(names: list[str], repeat: int, quick: bool,
                extra: list[str]) -> tuple[dict[str, dict[str, Row]], bool]:
    """Per model and line: wall (or, in a session, the run's total), fixed cost and load,
    combined over ``repeat`` repeats; and whether Ctrl-C stopped it (the finished runs kept)."""
    found: dict[str, dict[str, list[Row]]] = {}
    try:
        for r in range(repeat):
            seed = DEFAULT_SEED + r
            with tempfile.TemporaryDirectory(prefix="zoo-bench-fixed-") as folder:
                for name in names:
                    cache = None if quick else Path(folder) / name
                    for line, row in _model_lines(name, seed, cache, quick, extra):
                        found.setdefault(name, {}).setdefault(line, []).append(row)
                        say(f"repeat {r + 1}/{repeat} fixed cost {name}, {LINES[line]}: "
                            f"{row['fixed']:.2f} s of {row['wall']:.2f} s (load {row['load']:.1f})")
    except KeyboardInterrupt:
        say("bench interrupted: reporting the fixed costs measured")
        return _combined(found), True
    return _combined(found), False


def _model_lines(name: str, seed: int, cache: Path | None, quick: bool, extra: list[str]):
    """(line, row) for each of the model's lines, in order; a line that fails is said and
    skipped (a failed cold run leaves the warm ones cold: they are skipped too)."""
    verify = [sys.executable, "-m", "zoo", "verify", name, "--json", "--quiet", "--seed",
              str(seed), *extra]
    try:
        for line in ("command_warm",) if quick else ("command_cold", "command_warm"):
            run = measured(verify, cache)
            yield line, {"wall": run["wall"], "fixed": run["wall"] - work(run["doc"]["seconds"]),
                         "load": run["load"]}
        session = measured(one_process_command("zoo", [name], seed, str(SamplerConfig.cores),
                                               [*extra, "--again"]), cache)
    except RunFailed as err:
        say(f"fixed cost {name}: {err}")
        return
    first = session["doc"]["models"][name]
    for line, seconds in (("session_first", first), ("session_again", first["again"])):
        yield line, {"wall": seconds["total"], "fixed": seconds["total"] - work(seconds),
                     "load": session["load"]}


def _combined(found: dict[str, dict[str, list[Row]]]) -> dict[str, dict[str, Row]]:
    return {name: {line: with_loads(rows) for line, rows in lines.items()}
            for name, lines in found.items()}


def fixed_targets(fixed: dict[str, dict[str, Row]]) -> dict:
    """The issue's two targets on single-coin, when it was measured: a warm command's wall
    time at most 5 s, a verify again in a session at most 0.5 s (its run's total)."""
    lines = fixed.get(TARGET_MODEL, {})
    out = {}
    for line, bound, key in (("command_warm", COMMAND_WARM_MAX_SECONDS, "command_warm"),
                             ("session_again", AGAIN_MAX_SECONDS, "verify_again_in_session")):
        if line in lines:
            wall = lines[line]["wall"]
            out[f"{TARGET_MODEL}_{key}_at_most_{bound:g}_s"] = {
                "value": wall, "met": wall <= bound, "loads": lines[line]["loads"]}
    return out


def fixed_rows(doc: dict) -> list[list[str]]:
    """One row per model: each line's fixed cost, then its wall (a session's: the run's total)."""
    fixed = doc.get("fixed_cost", {})
    if not fixed:
        return []
    lines = [line for line in LINES if any(line in m for m in fixed.values())]
    rows = [["model", *(f"{LINES[line]}: fixed s [min-max] (of wall s)" for line in lines),
             "load at start"]]
    for name, found in fixed.items():
        cells = [_cost(found.get(line)) for line in lines]
        loads = "; ".join(" ".join(f"{x:.1f}" for x in found[line]["loads"])
                          for line in lines if line in found)
        rows.append([name, *cells, loads])
    return rows


def _cost(row: Row | None) -> str:
    if not row:
        return "-"
    text = f"{row['fixed']:.2f}"
    if "spread" in row:
        low, high = row["spread"]["fixed"]
        text += f" [{low:.2f}-{high:.2f}]"
    return f"{text} (of {row['wall']:.2f})"


def main(argv: list[str] | None = None) -> None:
    """``python -m zoo.tools.bench.fixed MODEL ... [--repeat N] --out FILE``: this part of the
    bench alone (minutes, not the whole bench's hour), its JSON written and its table printed."""
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    when, before = time.strftime("%Y-%m-%d %H:%M:%S %Z"), os.getloadavg()
    fixed, interrupted = fixed_costs(args.models, args.repeat, False, [])
    doc = {"settings": {"models": args.models, "repeat": args.repeat, "when": when,
                        "interrupted": interrupted, "cpus": os.cpu_count(),
                        "load_average_before": before, "load_average_after": os.getloadavg()},
           "fixed_cost": fixed, "targets": fixed_targets(fixed)}
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(markdown_table(fixed_rows(doc)))


if __name__ == "__main__":
    main()
