"""``zoo bench``: the zoo's fits side by side with plain-PyMC baselines, plus EM and SMC.

Every fit runs in a fresh process, so its wall time includes importing, compiling and
sampling as a user sees it: ``python -m zoo verify MODEL --json --quiet`` for the zoo and
``python benchmarks/baseline_MODEL.py --json`` (the same model, PyMC's defaults) for the
baseline. *Cold* runs get an empty PyTensor compile directory and Numba cache (fresh temporary
folders); *warm* runs reuse them. Both sides report the split of their fit into sampling (what
PyMC records as sampling time) and the rest (compiling, initialising, the zoo's EM starts).

Also measured: ``zoo verify --all`` cold against the baselines run back to back; stuck chains
and divergences of the zoo over several seeds; the EM library against scikit-learn
(``benchmarks/em_vs_sklearn.py``); and SMC's log Bayes factor error against the exact one
(``two-factories`` over the same seeds). Times depend on the machine's load, recorded in the
JSON. ``--quick`` is a smoke test for CI: warm runs only, tiny draws, no claims about time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo.errors import UsageError, ZooError
from zoo.sampling import DEFAULT_SEED

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
SMC_MODEL = "two-factories"
QUICK_MODELS = ["single-coin"]
QUICK_FIT = ["--draws", "200", "--tune", "200"]
QUICK_FIT_TEXT = "4 chains x 200 draws, 200 tuning steps"
EM_SIZES = (10_000, 100_000, 1_000_000)
EM_TOLERANCE = 1e-8
#: the issue's targets
WHOLE_ZOO_MAX_RATIO = 0.5
EM_MIN_SPEEDUP = 5.0
EM_SAME_OPTIMUM = 1e-6  # relative log-likelihood difference
SMC_MAX_ERROR = 0.03  # nats
#: per-run counts that are added up over repeats; every other number is a median
COUNTS = ("divergences", "stuck_chains")

Row = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo bench`` options."""
    parser.add_argument("models", nargs="*", metavar="MODEL", help="models to time (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="repeats; medians are reported")
    parser.add_argument("--seeds", type=int, default=10,
                        help="seeds for the stuck-chain and SMC runs (default 10; 0: skip)")
    parser.add_argument("--seed-models", metavar="M1,M2", type=lambda t: [m for m in t.split(",") if m],
                        help="models verified once per seed (default: the models timed)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: warm only, tiny draws, EM at 1e4, SMC over 2 seeds")
    parser.add_argument("--json", action="store_true", help="print the JSON, not the table")
    parser.add_argument("--out", type=Path, help="JSON file (default reports/bench.json)")


# --- one process ----------------------------------------------------------------------------


def cache_env(cache: Path | None) -> dict[str, str]:
    """The environment with PyTensor's compile directory and Numba's cache under ``cache``
    (None: the user's own, warm caches)."""
    env = dict(os.environ)
    if cache is not None:
        flags = [env.get("PYTENSOR_FLAGS", ""), f"base_compiledir={cache / 'pytensor'}"]
        env["PYTENSOR_FLAGS"] = ",".join(f for f in flags if f)
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    return env


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, dict]:
    """Whole-process wall time and the JSON the process printed (its last line, or all of it)."""
    begin = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
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
    raise ZooError(f"bench: {shlex.join(command[1:])} failed ({done.returncode}): {tail}")


def zoo_command(name: str, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "zoo", "verify", name, "--json", "--quiet", *extra]


def baseline_command(name: str, extra: list[str]) -> list[str]:
    script = BENCHMARKS / f"baseline_{name.replace('-', '_')}.py"
    return [sys.executable, str(script), "--json", *extra]


def zoo_row(wall: float, doc: dict) -> Row:
    """The figures of one ``zoo verify --json`` process."""
    seconds, diag = doc["seconds"], doc["diagnostics"]
    sampling = seconds.get("sampling", float("nan"))
    return {
        "wall": wall,
        "reference": seconds["reference"],
        "compile": seconds["fit"] - seconds.get("sampling_total", float("nan")),
        "sampling": sampling,
        "ess_bulk_min": diag["ess_bulk_min"],
        "ess_per_second": diag["ess_bulk_min"] / sampling,
        "divergences": diag["divergences"],
        "stuck_chains": len(diag["stuck_chains"]),
        "passed": doc["passed"],
    }


def baseline_row(wall: float, doc: dict) -> Row:
    """The figures of one baseline process (it reports its own compile/sampling split)."""
    keep = ("compile", "sampling", "ess_bulk_min", "ess_per_second", "divergences", "log_bf")
    return {"wall": wall, **{k: doc[k] for k in keep if k in doc},
            "stuck_chains": len(doc["stuck_chains"]), "sampler": doc["sampler"]}


SIDES: dict[str, tuple[Callable, Callable]] = {
    "zoo": (zoo_command, zoo_row),
    "baseline": (baseline_command, baseline_row),
}


def cold_and_warm(side: str, name: str, extra: list[str], quick: bool) -> dict[str, Row]:
    """One cold and one warm run in a fresh cache; quick: one run with the user's cache."""
    command, row = SIDES[side]
    if quick:
        return {"warm": row(*timed_process(command(name, extra), cache_env(None)))}
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as cache:
        env = cache_env(Path(cache))
        cold = row(*timed_process(command(name, extra), env))
        warm = row(*timed_process(command(name, extra), env))
    return {"cold": cold, "warm": warm}


# --- aggregation ----------------------------------------------------------------------------


def combine(rows: list[Row]) -> Row:
    """Medians over repeats; counts added up; ``passed`` only if every repeat passed."""
    out: Row = {}
    for key, first in rows[0].items():
        values = [r[key] for r in rows]
        if key in COUNTS:
            out[key] = sum(values)
        elif isinstance(first, bool):
            out[key] = all(values)
        elif isinstance(first, int | float):
            out[key] = statistics.median(values)
        else:
            out[key] = first
    return out


def ratios(zoo: dict[str, Row], baseline: dict[str, Row]) -> dict[str, float]:
    """zoo / baseline for wall, compile, sampling and ESS per second, cold and warm."""
    out = {}
    for temperature in zoo:
        for metric in ("wall", "compile", "sampling", "ess_per_second"):
            denominator = baseline[temperature][metric]
            out[f"{temperature}_{metric}"] = zoo[temperature][metric] / denominator if denominator else float("nan")
    return out


# --- the parts of the bench -----------------------------------------------------------------


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def time_models(names: list[str], repeat: int, quick: bool, whole_zoo: bool) -> tuple[dict, dict]:
    """Per model, zoo and baseline cold and warm, ``repeat`` times; and ``verify --all``.
    Repeat r runs both sides with seed DEFAULT_SEED + r: ESS varies from seed to seed by ~10%
    on these models, so the medians average over seeds as well as over timing noise."""
    runs: dict[str, dict[str, list]] = {n: {"zoo": [], "baseline": []} for n in names}
    whole: list[dict[str, float]] = []
    for r in range(repeat):
        extra = [*(QUICK_FIT if quick else []), "--seed", str(DEFAULT_SEED + r)]
        for name in names:
            for side in SIDES:
                found = cold_and_warm(side, name, extra, quick)
                runs[name][side].append(found)
                say(f"repeat {r + 1}/{repeat} {name:14s} {side:8s} " + ", ".join(
                    f"{t} {row['wall']:.1f} s" for t, row in found.items()))
        if whole_zoo:
            found = cold_and_warm_all()
            back_to_back = {t: sum(runs[n]["baseline"][-1][t]["wall"] for n in names)
                            for t in ("cold", "warm")}
            whole.append({**{f"zoo_{t}": v for t, v in found.items()},
                          **{f"baselines_{t}": v for t, v in back_to_back.items()}})
            say(f"repeat {r + 1}/{repeat} verify --all: cold {found['cold']:.1f} s, warm "
                f"{found['warm']:.1f} s, cold with --jobs 1 {found['cold_one_job']:.1f} s; "
                f"baselines back to back: cold {back_to_back['cold']:.1f} s, warm "
                f"{back_to_back['warm']:.1f} s")
    models = {}
    for name, sides in runs.items():
        combined = {side: {t: combine([run[t] for run in found]) for t in found[0]}
                    for side, found in sides.items()}
        models[name] = {**combined, "ratio": ratios(combined["zoo"], combined["baseline"])}
    return models, whole_zoo_summary(whole)


def cold_and_warm_all() -> dict[str, float]:
    """Wall time of ``zoo verify --all`` in a fresh cache, then again warm; and cold with
    ``--jobs 1`` (one model at a time, in one process)."""
    command = [sys.executable, "-m", "zoo", "verify", "--all", "--json", "--quiet"]
    times = {}
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as cache:
        env = cache_env(Path(cache))
        times.update({t: timed_process(command, env)[0] for t in ("cold", "warm")})
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as cache:
        times["cold_one_job"] = timed_process([*command, "--jobs", "1"], cache_env(Path(cache)))[0]
    return times


def whole_zoo_summary(whole: list[dict[str, float]]) -> dict:
    if not whole:
        return {}
    medians = combine(whole)
    return {**medians, "ratio_cold": medians["zoo_cold"] / medians["baselines_cold"],
            "ratio_warm": medians["zoo_warm"] / medians["baselines_warm"],
            "ratio_cold_one_job": medians["zoo_cold_one_job"] / medians["baselines_cold"],
            "jobs": os.cpu_count(), "repeats": len(whole)}


def seed_runs(names: list[str], seeds: int, extra: list[str]) -> dict[str, list[Row]]:
    """Each model verified once per seed (warm caches): stuck chains, divergences, pass."""
    out = {}
    for name in names:
        rows = []
        for seed in range(DEFAULT_SEED, DEFAULT_SEED + seeds):
            wall, doc = timed_process(zoo_command(name, [*extra, "--seed", str(seed)]), cache_env(None))
            row = {"seed": seed, "wall": wall, **{k: zoo_row(wall, doc)[k] for k in
                                                   ("divergences", "stuck_chains", "passed")},
                   "problems": verify_problems(doc)}
            if name == SMC_MODEL:
                row["smc_log_bf_error"] = doc["alternatives"]["smc"]["log_bf"] - doc["alternatives"]["exact"]["log_bf"]
            rows.append(row)
            say(f"seed {seed} {name}: {seed_line(row)}")
        out[name] = rows
    return out


def verify_problems(doc: dict) -> list[str]:
    """Why a ``zoo verify --json`` run did not pass: its convergence problems, then its failed
    checks (empty when it passed)."""
    failed = [f"check {c['name']} failed (z {c['z']:+.2f})" for c in doc["checks"] if not c["passed"]]
    return [*doc["diagnostics"]["problems"], *failed]


def seed_line(row: Row) -> str:
    """One seed's run in words: verdict (and why not passed), time, divergences, stuck chains."""
    verdict = "passed" if row["passed"] else "did not pass: " + "; ".join(row["problems"])
    line = (f"verify {verdict}; {row['wall']:.1f} s, {row['divergences']} divergences, "
            f"{row['stuck_chains']} stuck chains")
    if "smc_log_bf_error" in row:
        line += f", SMC log BF error {row['smc_log_bf_error']:+.4f} nats"
    return line


def smc_summary(rows: list[Row], quick: bool) -> dict:
    """SMC's log BF error over the seeds, and how many of those verify runs passed (and why
    not: at --quick's tiny draws R-hat and ESS miss verify's bounds on a correct model)."""
    errors = [r["smc_log_bf_error"] for r in rows]
    return {"seeds": len(errors), "errors": errors, "max_abs_error": max(map(abs, errors)),
            "rms_error": statistics.fmean(e * e for e in errors) ** 0.5,
            "verify_passed": sum(r["passed"] for r in rows),
            "verify_problems": list(dict.fromkeys(p for r in rows for p in r["problems"])),
            "verify_draws": QUICK_FIT_TEXT if quick else "verify's defaults"}


def em_rows(sizes: tuple[int, ...], repeats: int) -> list[Row]:
    """benchmarks/em_vs_sklearn.py's comparison at each size (best of ``repeats``)."""
    spec = importlib.util.spec_from_file_location("em_vs_sklearn", BENCHMARKS / "em_vs_sklearn.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as err:
        raise ZooError(f"bench: the EM comparison needs {err.name} (pip install -e '.[test]')") from None
    rows = []
    for n in sizes:
        rows.append(module.compare(n, EM_TOLERANCE, repeats, 0))
        say(f"EM n={n}: {rows[-1]['speedup']:.1f}x scikit-learn")
    return rows


def targets(models: dict, whole: dict, seeds: dict, em: list[Row], smc: dict) -> dict:
    """Each of the issue's targets: met or not, and the figure that decides."""
    out: dict[str, Any] = {}
    if whole:
        out["verify_all_cold_at_most_half"] = {"value": whole["ratio_cold"],
                                               "met": whole["ratio_cold"] <= WHOLE_ZOO_MAX_RATIO}
    out["ess_per_second_at_least_baseline"] = {
        name: {"value": m["ratio"]["warm_ess_per_second"], "met": m["ratio"]["warm_ess_per_second"] >= 1}
        for name, m in models.items()}
    out["no_stuck_chains_over_seeds"] = {
        name: {"value": sum(r["stuck_chains"] for r in rows), "seeds": len(rows),
               "met": all(r["stuck_chains"] == 0 for r in rows)} for name, rows in seeds.items()}
    out["em_5x_sklearn"] = [
        {"n": r["n"], "value": r["speedup"],
         "met": r["speedup"] >= EM_MIN_SPEEDUP and abs(r["zoo_loglik"] - r["sklearn_loglik_by_zoo"])
         <= EM_SAME_OPTIMUM * abs(r["zoo_loglik"])} for r in em]
    if smc:
        out["smc_log_bf_error_at_most_0.03"] = {"value": smc["max_abs_error"],
                                                "met": smc["max_abs_error"] <= SMC_MAX_ERROR}
    return out


def run_bench(names: list[str], repeat: int, seeds: int, quick: bool,
              seed_models: list[str] | None = None) -> dict:
    """Every measurement, as one JSON-ready document."""
    from zoo.results import versions

    load_before, started = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M:%S %Z")
    whole_zoo = not quick and set(names) == set(all_model_names())
    models, whole = time_models(names, repeat, quick, whole_zoo)
    stuck_names = [] if quick else (names if seed_models is None else seed_models)
    smc_names = [SMC_MODEL] if SMC_MODEL not in stuck_names else []
    seeds = 2 if quick else seeds
    by_seed = seed_runs(stuck_names + smc_names, seeds, QUICK_FIT if quick else [])
    smc = smc_summary(by_seed[SMC_MODEL], quick) if by_seed.get(SMC_MODEL) else {}
    for name in smc_names:
        del by_seed[name]
    em = em_rows(EM_SIZES[:1] if quick else EM_SIZES, repeat)
    return {
        "settings": {"models": names, "repeat": repeat, "seeds": seeds, "seed_models": stuck_names,
                     "quick": quick,
                     "cpus": os.cpu_count(), "load_average_before": load_before,
                     "load_average_after": os.getloadavg(), "versions": versions(),
                     "when": started},
        "models": models,
        "whole_zoo": whole,
        "seeds": by_seed,
        "em": em,
        "smc": smc,
        "targets": targets(models, whole, by_seed, em, smc),
    }


def all_model_names() -> list[str]:
    from zoo.registry import all_models

    return list(all_models())


# --- output ---------------------------------------------------------------------------------


def table(doc: dict) -> str:
    """The figures as aligned text: per model and side, ratios, then :func:`summary_notes`."""
    lines = [(f"{'model':14s} {'side':8s} {'cold s':>7s} {'warm s':>7s} {'compile':>7s} "
              f"{'sampling':>8s} {'ESS/s':>8s} {'div':>4s} {'stuck':>5s}")]
    for name, m in doc["models"].items():
        for side in SIDES:
            warm, cold = m[side]["warm"], m[side].get("cold", {})
            lines.append(f"{name:14s} {side:8s} {_cell(cold.get('wall'), '7.1f')} {warm['wall']:7.1f} "
                         f"{warm['compile']:7.2f} {warm['sampling']:8.2f} "
                         f"{warm['ess_per_second']:8.0f} {warm['divergences']:4d} "
                         f"{warm['stuck_chains'] + cold.get('stuck_chains', 0):5d}")
        r = m["ratio"]
        lines.append(f"{name:14s} {'ratio':8s} {_cell(r.get('cold_wall'), '7.2f')} {r['warm_wall']:7.2f} "
                     f"{r['warm_compile']:7.2f} {r['warm_sampling']:8.2f} {r['warm_ess_per_second']:8.2f}")
    lines.append("compile: fit time outside sampling (warm); ESS/s: min bulk ESS per second of "
                 "sampling (warm); stuck: over cold and warm runs"
                 + ("; -: not measured (--quick runs warm only)" if doc["settings"]["quick"] else ""))
    return "\n".join(lines + summary_notes(doc))


def _cell(value: float | None, spec: str) -> str:
    """A table cell: the number, or '-' right-aligned where it was not measured."""
    return format(value, spec) if value is not None else format("-", ">" + spec.split(".")[0])


def summary_rows(doc: dict) -> list[list[str]]:
    """Per model, the ratios zoo / baseline and the zoo's stuck chains over seeds (for the site)."""
    rows = [["model", "cold wall zoo/baseline", "warm wall", "compile (warm)", "sampling (warm)",
             "ESS per second (warm)", "zoo's stuck chains over seeds"]]
    for name, m in doc["models"].items():
        r = m["ratio"]
        cells = [r.get(f"{k}") for k in ("cold_wall", "warm_wall", "warm_compile", "warm_sampling",
                                         "warm_ess_per_second")]
        seeds = doc["seeds"].get(name, [])
        stuck = f"{sum(x['stuck_chains'] for x in seeds)} in {len(seeds)}" if seeds else ""
        rows.append([name, *("" if c is None else f"{c:.2f}" for c in cells), stuck])
    return rows


def summary_notes(doc: dict) -> list[str]:
    """Whole zoo, EM, SMC, stuck chains and the machine's load, one sentence each."""
    notes = []
    whole = doc["whole_zoo"]
    if whole:
        notes.append(f"whole zoo: verify --all ({whole['jobs']} jobs) cold {whole['zoo_cold']:.1f} s, "
                     f"warm {whole['zoo_warm']:.1f} s, cold with --jobs 1 "
                     f"{whole['zoo_cold_one_job']:.1f} s; baselines back to back cold "
                     f"{whole['baselines_cold']:.1f} s, warm {whole['baselines_warm']:.1f} s; ratio "
                     f"cold {whole['ratio_cold']:.2f} (--jobs 1: {whole['ratio_cold_one_job']:.2f}), "
                     f"warm {whole['ratio_warm']:.2f}")
    for r in doc["em"]:
        notes.append(f"EM n={r['n']}: zoo {r['zoo_seconds']:.3f} s, scikit-learn "
                     f"{r['sklearn_seconds']:.3f} s, {r['speedup']:.1f}x")
    smc = doc["smc"]
    if smc:
        notes.append(f"SMC log BF error over {smc['seeds']} seeds: max |error| "
                     f"{smc['max_abs_error']:.3f}, rms {smc['rms_error']:.3f} nats"
                     + _verify_verdicts(smc, doc["settings"]["quick"]))
    for name, rows in doc["seeds"].items():
        notes.append(f"{name}: {sum(r['stuck_chains'] for r in rows)} stuck chains, "
                     f"{sum(r['divergences'] for r in rows)} divergences over {len(rows)} seeds")
    settings = doc["settings"]
    notes.append(f"measured {settings['when']}, {settings['repeat']} repeat(s), load average "
                 f"{settings['load_average_before'][0]:.1f} at start on {settings['cpus']} CPUs")
    return notes


def _verify_verdicts(smc: dict, quick: bool) -> str:
    """How many of the SMC seeds' verify runs passed, and why the others did not."""
    if "verify_passed" not in smc:  # a bench.json written before these were recorded
        return ""
    text = f"; {SMC_MODEL} verify passed {smc['verify_passed']}/{smc['seeds']}"
    if smc["verify_passed"] < smc["seeds"]:
        text += f" at {smc['verify_draws']} ({'; '.join(smc['verify_problems'])})"
        if quick:
            text += (": --quick's draws are too few for verify's R-hat <= 1.01 and bulk ESS >= "
                     "400, so a correct model can miss them; only the SMC error is measured here")
    return text


def write_json(doc: dict, path: Path) -> None:
    """Write atomically: a finished bench or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".json.part")
    staged.write_text(json.dumps(doc, indent=1, default=float) + "\n")
    staged.replace(path)


def bench_command(args: argparse.Namespace, reports: Path) -> int:
    """``zoo bench``: measure, write the JSON, print the table (or the JSON)."""
    known = all_model_names()
    unknown = [n for n in [*args.models, *(args.seed_models or [])] if n not in known]
    if unknown:
        raise UsageError(f"unknown model {unknown[0]!r}; known models: {', '.join(known)}")
    if args.repeat < 1 or args.seeds < 0:
        raise UsageError("--repeat must be at least 1 and --seeds at least 0")
    names = args.models or (QUICK_MODELS if args.quick else known)
    doc = run_bench(names, 1 if args.quick else args.repeat, args.seeds, args.quick, args.seed_models)
    path = args.out or reports / "bench.json"
    write_json(doc, path)
    print(json.dumps(doc, indent=1, default=float) if args.json else table(doc))
    print(f"wrote {path}", file=sys.stderr)
    return 0
