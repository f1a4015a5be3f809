"""``zoo bench``: the zoo against plain-PyMC baselines at equal resources, plus EM and SMC.

Fair by construction: both sides fit every model back to back in ONE process
(``zoo.benchmarks.one_process``: one interpreter, one compile cache), with the zoo's cores;
PyMC's default cores (one thread for four chains on two CPUs) is a second, labelled row. ESS
per gradient evaluation (leapfrog steps, ``n_steps``) stands beside ESS per second: threads and
the machine's load cancel from it. ``zoo verify --all`` runs with ``--jobs 1`` and
``--jobs 2``. Each repeat runs every line *cold* (fresh PyTensor and Numba caches) and then
*warm* (the same caches), interleaved (zoo, baseline, ..., zoo, baseline, ...) so both sides
see the same load; the load average as each process starts is recorded beside its time, and
medians come with their [min, max] over repeats. The breakdown of ``verify --all`` (interpreter,
imports, references, compile, sampling, diagnostics, output) comes from the same runs. Then
the fixed cost per model, cold and warm, from the command and in a session
(:mod:`zoo.tools.bench.fixed`).

Also measured: stuck chains and divergences of the zoo over several seeds; the EM library
against scikit-learn (``zoo.benchmarks.em_vs_sklearn``); SMC's log Bayes factor error
(``two-factories``). ``--quick`` is a smoke test for CI: warm runs only, tiny draws, no claims
about time. ``--scaling`` (``zoo.tools.bench.scaling``): how cost grows with the data.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from zoo.core.arguments import quiet_option
from zoo.core.errors import EnvironmentProblem, UsageError
from zoo.core.outputs import REPORTS
from zoo.core.progress_lines import say
from zoo.core.registry import all_models
from zoo.core.results import versions
from zoo.core.sampling import DEFAULT_SEED, SamplerConfig
from zoo.report.text import markdown_table
from zoo.tools.bench.fixed import fixed_costs, fixed_rows, fixed_targets
from zoo.tools.bench.runs import Row, RunFailed, measured, one_process_command, with_loads
from zoo.tools.bench.scaling import run_scaling, scaling_table

#: the files ``zoo bench`` and ``zoo bench --scaling`` write in REPORTS (the site reads them)
BENCH_JSON, SCALING_JSON = "bench.json", "bench-scaling.json"
SMC_MODEL = "two-factories"
QUICK_MODELS = ["single-coin"]
QUICK_FIT = ["--draws", "200", "--tune", "200"]
QUICK_FIT_TEXT = "4 chains x 200 draws, 200 tuning steps"
EM_SIZES = (10_000, 100_000, 1_000_000)
EM_TOLERANCE = 1e-8
ZOO_CORES = SamplerConfig.cores
#: PyMC's choice when ``cores`` is not given (pymc.sampling.mcmc: min(4, cpu_count() // 2))
PYMC_DEFAULT_CORES = min(4, max(1, (os.cpu_count() or 2) // 2))
#: the issue's targets
WHOLE_ZOO_MAX_RATIO = 0.35
#: verify --all --jobs 2's wall time, warm and cold: issue 17's bound, then issue 26's
VERIFY_MAX_SECONDS = {"warm": (10.0, 12.0), "cold": (20.0, 40.0)}
EM_MIN_SPEEDUP = 5.0
EM_SAME_OPTIMUM = 1e-6  # relative log-likelihood difference
SMC_MAX_ERROR = 0.03  # nats

#: every measured line: (what runs, its label with jobs and cores)
LINES = {
    "zoo": ("one process", f"zoo, one process (jobs 1, cores {ZOO_CORES})"),
    "baseline": ("one process", f"baselines, one process (jobs 1, cores {ZOO_CORES})"),
    "baseline_default_cores": ("one process", "baselines, one process (jobs 1, PyMC's default "
                                              f"cores {PYMC_DEFAULT_CORES})"),
    "verify_jobs_2": ("verify", f"zoo verify --all (jobs 2, cores {ZOO_CORES} each)"),
    "verify_jobs_1": ("verify", f"zoo verify --all (jobs 1, cores {ZOO_CORES})"),
}
SIDE_OF = {"zoo": "zoo", "baseline": "baseline", "baseline_default_cores": "baseline"}
#: the zoo's stages, summed over the models of a run (the breakdown)
STAGES = ("density_check", "reference", "compile", "sampling_total", "diagnostics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo bench`` options."""
    parser.add_argument("models", nargs="*", metavar="MODEL", help="models to time (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; medians and [min, max]")
    parser.add_argument("--seeds", type=int, default=10,
                        help="seeds for the stuck-chain and SMC runs (default 10; 0: skip)")
    parser.add_argument("--seed-models", metavar="M1,M2", type=lambda t: [m for m in t.split(",") if m],
                        help="models verified once per seed (default: the models timed)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: warm only, tiny draws, EM at 1e4, SMC over 2 seeds")
    parser.add_argument("--scaling", action="store_true",
                        help="how cost grows: gmm at n = 1e3..1e6, rat-tumors at 71..7,100 "
                             "experiments, zoo sbc on 1, 2 jobs and Dask (long; not for CI)")
    parser.add_argument("--scaling-sizes", metavar="N1,N2", type=lambda t: [int(float(n)) for n in t.split(",")],
                        help="gmm's sizes for --scaling (default 1e3,1e4,1e5,1e6)")
    parser.add_argument("--baseline-cap", type=float, default=600.0,
                        help="--scaling: seconds after which a baseline fit is stopped (default 600)")
    parser.add_argument("--json", action="store_true", help="print the JSON, not the table")
    parser.add_argument("--out", type=Path, help=f"JSON file (default {REPORTS / BENCH_JSON}, "
                                                 f"{REPORTS / SCALING_JSON} with --scaling)")
    quiet_option(parser)


# --- the interleaved runs -------------------------------------------------------------------


def command(line: str, names: list[str], seed: int, extra: list[str]) -> list[str]:
    kind, _ = LINES[line]
    if kind == "verify":
        jobs = line.rsplit("_", 1)[1]
        return [sys.executable, "-m", "zoo", "verify", "--all", "--json", "--quiet", "--jobs", jobs,
                "--seed", str(seed), *extra]
    cores = "default" if line == "baseline_default_cores" else str(ZOO_CORES)
    return one_process_command(SIDE_OF[line], names, seed, cores, extra)


def record(line: str, run: Row) -> Row:
    """What a line's process found: per model for one-process runs, summed stages for both."""
    doc = run["doc"]
    if LINES[line][0] == "verify":
        per_model = [m["seconds"] for m in doc["models"]]
        stages = {"density_check": sum(s["density_check"] for s in per_model),
                  "reference": sum(s["reference"] for s in per_model),
                  "compile": sum(s["fit"] - s["sampling_total"] for s in per_model),
                  "sampling_total": sum(s["sampling_total"] for s in per_model),
                  "diagnostics": sum(s.get("diagnostics", 0.0) for s in per_model)}
        return {"wall": run["wall"], "load": run["load"], **stages, "passed": doc["passed"],
                "fitted": [m["model"] for m in doc["models"]]}
    models = doc["models"]
    stages = {stage: sum(m.get(stage, 0.0) for m in models.values()) for stage in STAGES}
    return {"wall": run["wall"], "load": run["load"], "interpreter": run["wall"] - doc["inside"],
            "imports": doc["imports"], "inside": doc["inside"], **stages,
            "passed": all(m.get("passed", True) for m in models.values()),
            "models": {n: {**m, "load": run["load"]} for n, m in models.items()}}


#: one repeat's runs in order of importance (an interrupted bench reports what ran): the
#: equal-cores pair and verify --jobs 2 cold, then warm, then the rest; zoo and baseline alternate
PLAN = [("zoo", "cold"), ("baseline", "cold"), ("verify_jobs_2", "cold"), ("zoo", "warm"),
        ("baseline", "warm"), ("verify_jobs_2", "warm"), ("baseline_default_cores", "warm"),
        ("verify_jobs_1", "warm"), ("baseline_default_cores", "cold"), ("verify_jobs_1", "cold")]


def cache_folder(folder: Path, line: str, temperature: str) -> Path:
    """Warm runs share their side's cache, which the side's first cold run filled (the zoo's
    one-process run and verify compile the same functions); other cold runs start empty."""
    side = SIDE_OF.get(line, "zoo")
    if temperature == "warm" or line == side:
        return folder / side
    return folder / f"cold-{line}"


def interleaved(names: list[str], repeat: int, quick: bool,
                whole_zoo: bool) -> tuple[dict[str, dict], bool]:
    """:data:`PLAN`, ``repeat`` times, each repeat in fresh caches; zoo and baseline alternate so
    both share the load. Repeat r uses seed DEFAULT_SEED + r (ESS varies ~10% between seeds:
    the medians average over seeds as well as timing noise). Ctrl-C stops the bench and keeps
    the runs finished (and says it was interrupted)."""
    plan = [(line, "warm") for line in ("zoo", "baseline")] if quick else [
        (line, t) for line, t in PLAN if whole_zoo or LINES[line][0] != "verify"]
    runs: dict[str, dict[str, list[Row]]] = {}
    if not quick:  # the smoke test times nothing it asserts
        read_libraries_once()
    try:
        for r in range(repeat):
            seed, extra = DEFAULT_SEED + r, QUICK_FIT if quick else []
            with tempfile.TemporaryDirectory(prefix="zoo-bench-") as folder:
                for line, temperature in plan:
                    cache = None if quick else cache_folder(Path(folder), line, temperature)
                    try:
                        found = record(line, measured(command(line, names, seed, extra), cache))
                    except RunFailed as err:
                        if quick:
                            raise
                        say(f"repeat {r + 1}/{repeat} {temperature} {LINES[line][1]}: {err}")
                        continue
                    runs.setdefault(line, {}).setdefault(temperature, []).append(found)
                    say(f"repeat {r + 1}/{repeat} {temperature} {LINES[line][1]}: "
                        f"{found['wall']:.1f} s (load {found['load']:.1f})")
    except KeyboardInterrupt:
        say("bench interrupted: reporting the runs that finished")
        return runs, True
    return runs, False


def read_libraries_once() -> None:
    """Import both sides' libraries once in a process of its own, untimed: the first process
    after the machine has been idle reads them from disk (17.8 s of imports in the zoo's first
    cold run of 2026-12-03 against 2.3 s by hand afterwards), a cost that would otherwise
    fall on whichever side runs first."""
    subprocess.run([sys.executable, "-c", "import zoo.benchmarks.one_process, nutpie"],
                   capture_output=True, check=False)


def per_model(runs: dict[str, dict[str, list[Row]]], names: list[str]) -> dict[str, dict]:
    """Per model and one-process line, cold and warm: medians, spread and loads; ratios."""
    models = {}
    for name in names:
        model: dict[str, Any] = {}
        for line, by_temperature in runs.items():
            if LINES[line][0] == "one process":
                model[line] = {t: with_loads([run["models"][name] for run in rows])
                               for t, rows in by_temperature.items()}
        model["ratio"] = ratios(model)
        models[name] = model
    return models


def ratios(model: dict) -> dict[str, float]:
    """zoo / baseline (equal cores) for compile, sampling, ESS per second and per gradient."""
    out = {}
    for temperature in set(model.get("zoo", {})) & set(model.get("baseline", {})):
        for metric in ("compile", "sampling", "ess_per_second", "ess_per_gradient"):
            denominator = model["baseline"][temperature][metric]
            out[f"{temperature}_{metric}"] = (model["zoo"][temperature][metric] / denominator
                                              if denominator else float("nan"))
    return out


def whole_zoo(runs: dict[str, dict[str, list[Row]]]) -> dict:
    """Every line's wall time and summed stages, cold and warm; the ratios zoo / baselines."""
    rows = {line: {t: with_loads([{k: v for k, v in run.items() if k != "models"} for run in found])
                   for t, found in by_temperature.items()}
            for line, by_temperature in runs.items()}
    out: dict[str, Any] = {"rows": rows, "labels": {line: LINES[line][1] for line in rows},
                           "ratio": {}}
    for line in ("verify_jobs_2", "verify_jobs_1", "zoo"):
        for against in ("baseline", "baseline_default_cores"):
            if line in rows and against in rows:
                for t in set(rows[line]) & set(rows[against]):
                    out["ratio"][f"{line}/{against}/{t}"] = rows[line][t]["wall"] / rows[against][t]["wall"]
    if "verify_jobs_1" in rows and "zoo" in rows:
        out["breakdown"] = {t: breakdown(rows["zoo"][t], rows["verify_jobs_1"][t])
                            for t in set(rows["zoo"]) & set(rows["verify_jobs_1"])}
    return out


def breakdown(zoo: Row, verify: Row) -> dict[str, float]:
    """Where ``verify --all --jobs 1``'s time goes: its models' stages as ``verify --json``
    reports them; interpreter start and imports from the one-process run (``import zoo``
    loads PyMC before that script's clock starts: its wall time minus the time inside, plus
    its own imports); the rest is verify's CLI, output and anything unaccounted."""
    start = zoo["interpreter"] + zoo["imports"]
    stages = {stage: verify[stage] for stage in STAGES}
    return {"interpreter_and_imports": start, **stages,
            "cli_output_and_rest": verify["wall"] - start - sum(stages.values()),
            "verify_wall": verify["wall"]}


# --- seeds, EM, SMC -------------------------------------------------------------------------


def seed_runs(names: list[str], seeds: int, extra: list[str]) -> dict[str, list[Row]]:
    """Each model verified once per seed (warm caches): stuck chains, divergences, pass."""
    out = {}
    for name in names:
        rows = []
        for seed in range(DEFAULT_SEED, DEFAULT_SEED + seeds):
            verify = [sys.executable, "-m", "zoo", "verify", name, "--json", "--quiet", *extra,
                      "--seed", str(seed)]
            run = measured(verify, None)
            doc, diag = run["doc"], run["doc"]["diagnostics"]
            row = {"seed": seed, "wall": run["wall"], "load": run["load"],
                   "divergences": diag["divergences"], "stuck_chains": len(diag["stuck_chains"]),
                   "passed": doc["passed"], "problems": verify_problems(doc)}
            if name == SMC_MODEL:
                alternatives = doc["alternatives"]
                row["smc_log_bf_error"] = alternatives["smc"]["log_bf"] - alternatives["exact"]["log_bf"]
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
    """zoo.benchmarks.em_vs_sklearn's comparison at each size (best of ``repeats``)."""
    try:
        module = importlib.import_module("zoo.benchmarks.em_vs_sklearn")
    except ModuleNotFoundError as err:
        raise EnvironmentProblem(f"bench: the EM comparison needs {err.name} "
                                 "(pip install -e '.[test]')") from None
    rows = []
    for n in sizes:
        rows.append(module.compare(n, EM_TOLERANCE, repeats, 0))
        say(f"EM n={n}: {rows[-1]['speedup']:.1f}x scikit-learn")
    return rows


# --- targets --------------------------------------------------------------------------------


def targets(models: dict, whole: dict, seeds: dict, em: list[Row], smc: dict) -> dict:
    """Each of the issue's targets: met or not, and the figure that decides."""
    out: dict[str, Any] = {}
    if whole.get("rows", {}).get("verify_jobs_2"):
        verify = whole["rows"]["verify_jobs_2"]
        for t in verify:
            ratio = whole["ratio"].get(f"verify_jobs_2/baseline/{t}")
            if ratio is None:
                continue
            out[f"verify_all_{t}_at_most_0.35x_baselines"] = {"value": ratio,
                                                              "met": ratio <= WHOLE_ZOO_MAX_RATIO}
        for t, bounds in VERIFY_MAX_SECONDS.items():
            for bound in bounds if t in verify else ():
                out[f"verify_all_{t}_at_most_{bound:.0f}_s"] = {
                    "value": verify[t]["wall"], "met": verify[t]["wall"] <= bound,
                    "loads": verify[t]["loads"]}
    out["ess_per_gradient_at_least_baseline"] = {
        name: ess_per_gradient_verdict(m["zoo"]["warm"], m["baseline"]["warm"])
        for name, m in models.items() if "warm" in m.get("zoo", {}) and "warm" in m.get("baseline", {})}
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


def ess_per_gradient_verdict(zoo: Row, baseline: Row) -> dict:
    """Met when the zoo's median is at least the baseline's, and only then; ``within_noise``
    says whether the zoo's [min, max] over repeats overlaps the baseline's (a miss by noise
    is still a miss: it is reported as such, not as met)."""
    ratio = zoo["ess_per_gradient"] / baseline["ess_per_gradient"]
    low, high = (zoo.get("spread", {}).get("ess_per_gradient", [zoo["ess_per_gradient"]] * 2))
    b_low, b_high = (baseline.get("spread", {}).get("ess_per_gradient",
                                                    [baseline["ess_per_gradient"]] * 2))
    within_noise = low <= b_high and b_low <= high
    return {"value": ratio, "met": bool(ratio >= 1), "within_noise": within_noise}


# --- the whole bench ------------------------------------------------------------------------


def run_bench(names: list[str], repeat: int, seeds: int, quick: bool,
              seed_models: list[str] | None = None) -> dict:
    """Every measurement, as one JSON-ready document."""
    load_before, started = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M:%S %Z")
    without_baseline = [n for n in all_model_names() if not has_baseline(n)]
    whole = not quick and set(names) == set(with_baselines())
    runs, interrupted = interleaved(names, repeat, quick, whole)
    models, zoo_wide = per_model(runs, names), whole_zoo(runs) if whole else {}
    fixed, stopped = ({}, False) if interrupted else fixed_costs(
        names, repeat, quick, QUICK_FIT if quick else [])
    interrupted = interrupted or stopped
    stuck_names = [] if quick else (names if seed_models is None else seed_models)
    smc_names = [SMC_MODEL] if SMC_MODEL not in stuck_names else []
    seeds = 2 if quick else seeds
    by_seed = seed_runs(stuck_names + smc_names, 0 if interrupted else seeds,
                        QUICK_FIT if quick else [])
    smc = smc_summary(by_seed[SMC_MODEL], quick) if by_seed.get(SMC_MODEL) else {}
    for name in smc_names:
        del by_seed[name]
    em = [] if interrupted else em_rows(EM_SIZES[:1] if quick else EM_SIZES, repeat)
    return {
        "settings": {"models": names, "repeat": repeat, "seeds": seeds, "seed_models": stuck_names,
                     "quick": quick, "interrupted": interrupted, "cpus": os.cpu_count(),
                     "zoo_cores": ZOO_CORES,
                     "pymc_default_cores": PYMC_DEFAULT_CORES,
                     "without_baseline": without_baseline,
                     "load_average_before": load_before, "load_average_after": os.getloadavg(),
                     "versions": versions(), "when": started},
        "models": models,
        "fixed_cost": fixed,
        "whole_zoo": zoo_wide,
        "seeds": by_seed,
        "em": em,
        "smc": smc,
        "targets": {**targets(models, zoo_wide, by_seed, em, smc),
                    **({} if quick else fixed_targets(fixed))},
    }


def all_model_names() -> list[str]:
    return list(all_models())


def has_baseline(name: str) -> bool:
    return importlib.util.find_spec(f"zoo.benchmarks.baseline_{name.replace('-', '_')}") is not None


def with_baselines() -> list[str]:
    """The models the bench can compare: those with a baseline in zoo.benchmarks."""
    return [name for name in all_model_names() if has_baseline(name)]


# --- output ---------------------------------------------------------------------------------


def _cell(value: float | None, spec: str) -> str:
    """A number, or '-' where it was not measured."""
    return "-" if value is None else format(value, spec)


def _with_spread(row: Row | None, key: str, spec: str) -> str:
    """'median [min-max]' (the spread only when there were repeats)."""
    if not row:
        return "-"
    text = format(row[key], spec)
    if "spread" in row and key in row["spread"]:
        low, high = row["spread"][key]
        text += f" [{low:{spec}}-{high:{spec}}]"
    return text


def _loads(row: Row | None) -> str:
    return "-" if not row else " ".join(f"{x:.1f}" for x in row["loads"])


def whole_zoo_rows(doc: dict) -> list[list[str]]:
    """The whole zoo, one row per line: wall cold and warm with spread, references, load."""
    whole = doc["whole_zoo"]
    rows = [["run", "cold s [min-max]", "warm s [min-max]", "references s (cold)",
             "load at start (cold; warm)"]]
    for line, found in whole.get("rows", {}).items():
        cold, warm = found.get("cold"), found.get("warm")
        reference = _cell(cold["reference"], ".1f") if cold and SIDE_OF.get(line) != "baseline" else ""
        rows.append([whole["labels"][line], _with_spread(cold, "wall", ".1f"),
                     _with_spread(warm, "wall", ".1f"), reference,
                     f"{_loads(cold)}; {_loads(warm)}"])
    return rows


def summary_rows(doc: dict) -> list[list[str]]:
    """Per model and side (warm, with jobs and cores): compile, sampling, ESS, ESS/s, ESS per
    gradient, divergences, stuck chains, load (for the site and docs/benchmarks.md)."""
    rows = [["model", "side (jobs 1)", "cores", "compile s", "sampling s", "ESS bulk", "ESS/s",
             "ESS per gradient", "div", "stuck", "load"]]
    labels = {"zoo": ("zoo", ZOO_CORES), "baseline": ("baseline", ZOO_CORES),
              "baseline_default_cores": ("baseline", f"PyMC default {PYMC_DEFAULT_CORES}")}
    for name, m in doc["models"].items():
        for line, (side, cores) in labels.items():
            if "warm" not in m.get(line, {}):
                continue
            warm = m[line]["warm"]
            rows.append([name, side, str(cores), _with_spread(warm, "compile", ".2f"),
                         _with_spread(warm, "sampling", ".2f"), f"{warm['ess_bulk_min']:.0f}",
                         _with_spread(warm, "ess_per_second", ".0f"),
                         _with_spread(warm, "ess_per_gradient", ".3f"),
                         str(warm["divergences"]), str(warm["stuck_chains"]), _loads(warm)])
    return rows


def breakdown_rows(doc: dict) -> list[list[str]]:
    """Where ``verify --all --jobs 1``'s time goes, cold and warm (medians)."""
    found = doc["whole_zoo"].get("breakdown")
    if not found:
        return []
    names = {"interpreter_and_imports": "interpreter start and imports",
             "density_check": "log-density checks",
             "reference": "references", "compile": "compile (+ init, EM starts)",
             "sampling_total": "sampling (all fits)", "diagnostics": "diagnostics and checks",
             "cli_output_and_rest": "CLI, data, output and the rest",
             "verify_wall": "verify --all --jobs 1 wall"}
    temperatures = [t for t in ("cold", "warm") if t in found]
    return [["piece", *(f"{t} s" for t in temperatures)]] + [
        [label, *(f"{found[t][key]:.1f}" for t in temperatures)] for key, label in names.items()
        if all(key in found[t] for t in temperatures)]  # results from before a piece was timed


def table(doc: dict) -> str:
    """The figures as Markdown tables (for docs/benchmarks.md), then :func:`summary_notes`."""
    parts = [markdown_table(summary_rows(doc)), markdown_table(fixed_rows(doc))]
    if doc["whole_zoo"]:
        parts += [markdown_table(whole_zoo_rows(doc)), markdown_table(breakdown_rows(doc))]
    return "\n\n".join([part for part in parts if part] + ["\n".join(summary_notes(doc))])


def summary_notes(doc: dict) -> list[str]:
    """Ratios, targets, EM, SMC, stuck chains and the machine's load, one sentence each."""
    notes = []
    whole = doc["whole_zoo"]
    for key, value in whole.get("ratio", {}).items():
        line, against, temperature = key.split("/")
        notes.append(f"{temperature}: {whole['labels'][line]} / {whole['labels'][against]} = {value:.2f}")
    for key, verdict in doc["targets"].items():
        if isinstance(verdict, dict) and "met" in verdict:
            notes.append(f"target {key}: {verdict['value']:.3g} "
                         f"({'met' if verdict['met'] else 'missed'})")
    for name, verdict in doc["targets"].get("ess_per_gradient_at_least_baseline", {}).items():
        state = "met" if verdict["met"] else ("missed, within the repeats' noise"
                                              if verdict["within_noise"] else "missed")
        notes.append(f"ESS per gradient zoo/baseline {name}: {verdict['value']:.2f} ({state})")
    for r in doc["em"]:
        notes.append(f"EM n={r['n']}: zoo {r['zoo_seconds']:.3f} s, scikit-learn "
                     f"{r['sklearn_seconds']:.3f} s, {r['speedup']:.1f}x")
    smc = doc["smc"]
    if smc:
        notes.append(f"SMC log BF error over {smc['seeds']} seeds: max |error| "
                     f"{smc['max_abs_error']:.3f}, rms {smc['rms_error']:.3f} nats"
                     + _verify_verdicts(smc, doc["settings"]["quick"]))
    for name, rows in doc["seeds"].items():
        if not rows:
            continue
        notes.append(f"{name}: {sum(r['stuck_chains'] for r in rows)} stuck chains, "
                     f"{sum(r['divergences'] for r in rows)} divergences over {len(rows)} seeds")
    settings = doc["settings"]
    if settings.get("without_baseline") and whole:
        notes.append(f"verify --all also fits {', '.join(settings['without_baseline'])}, which has "
                     "no baseline yet: its rows do more work than the baselines' (the one-process "
                     "zoo row fits the same models as they do)")
    notes.append(f"measured {settings['when']}, {settings['repeat']} repeat(s) interleaved, load "
                 f"average {settings['load_average_before'][0]:.1f} at start on "
                 f"{settings['cpus']} CPUs; ESS per gradient: min bulk ESS / leapfrog steps of "
                 "the kept draws (n_steps); the small models' sampling is tens of ms")
    return notes


def _verify_verdicts(smc: dict, quick: bool) -> str:
    """How many of the SMC seeds' verify runs passed, and why the others did not."""
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


def bench_command(args: argparse.Namespace) -> int:
    """``zoo bench``: measure, write the JSON, print the table (or the JSON)."""
    known = all_model_names()
    unknown = [n for n in [*args.models, *(args.seed_models or [])] if n not in known]
    if unknown:
        raise UsageError(f"unknown model {unknown[0]!r}; known models: {', '.join(known)}")
    if importlib.util.find_spec("zoo.benchmarks") is None:
        raise UsageError("zoo bench needs the zoo.benchmarks package, which this installation "
                         "lacks (reinstall: pip install -e . or the wheel)")
    comparable = with_baselines()
    lacking = [n for n in args.models if n not in comparable]
    if lacking:
        raise UsageError(f"model {lacking[0]!r} has no baseline in zoo.benchmarks; models with "
                         f"one: {', '.join(comparable)}")
    if args.repeat < 1 or args.seeds < 0 or args.baseline_cap <= 0:
        raise UsageError("--repeat must be at least 1, --seeds at least 0, --baseline-cap positive")
    if args.scaling:
        doc = run_scaling(args.scaling_sizes, args.baseline_cap, args.repeat)
        path, render = args.out or REPORTS / SCALING_JSON, scaling_table
    else:
        names = args.models or (QUICK_MODELS if args.quick else comparable)
        doc = run_bench(names, 1 if args.quick else args.repeat, args.seeds, args.quick,
                        args.seed_models)
        path, render = args.out or REPORTS / BENCH_JSON, table
    write_json(doc, path)
    print(json.dumps(doc, indent=1, default=float) if args.json else render(doc))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def site_sections(doc: dict, name: str) -> list[dict]:
    """The bench on the report site's index: per model, then the whole zoo (when measured)."""
    sections = [{"title": "Benchmark (zoo / baseline, equal cores)", "rows": summary_rows(doc),
                 "notes": [f"From {name}.", *summary_notes(doc)]}]
    if fixed_rows(doc):
        sections.append({"title": "Fixed cost per model (a run beyond its sampling, reference "
                                  "and diagnostics)", "rows": fixed_rows(doc), "notes": []})
    if doc["whole_zoo"]:
        sections.append({"title": "Whole zoo and where its time goes", "rows": whole_zoo_rows(doc),
                         "notes": [" | ".join(row) for row in breakdown_rows(doc)]})
    return sections
