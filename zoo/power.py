"""``zoo power``: how strong is each check? Injected faults (:mod:`zoo.faults`) against
``verify`` and SBC, false alarms of the correct models, and the smallest bias each check detects.

Units of work, each stored as it finishes (one JSON file, written atomically) so that a rerun
skips them, and run in this process, in ``--jobs`` spawned worker processes or on a Dask
cluster (``--scheduler``) like ``zoo sbc``:

- ``verify``: one full :func:`zoo.pipeline.run` of a model, faulty or correct, with the default
  :class:`~zoo.sampling.SamplerConfig` but seed ``DEFAULT_SEED + i``; stored in
  ``OUT/MODEL/FAULT/verify/seed-IIII.json`` (FAULT ``correct`` for the model itself).
- ``sbc``: one simulation of :func:`zoo.sbc.simulate_and_fit` on the faulty model, stored by
  :class:`zoo.sbc.SimulationStore` in ``OUT/MODEL/FAULT/sbc`` (the layout of ``zoo sbc``).

Measures, per fault: its *effect*, the largest shift of any checked quantity in posterior sds,
exact where the fault has an exact answer of its own (|faulty reference - reference| / sd),
else from the faulty fits (|mean over seeds of estimate - reference| / sd); how often
``verify`` catches it (a failed check or failed diagnostics); whether SBC flags it. The
posterior sd of a check ``v.mean`` or ``v.sd`` is the reference's ``v.sd`` when there is one,
else the sd of v's draws (median over the correct model's seeds); a check without draws (SMC's
``log_bf``, rat tumors' predictive ``y_new.mean``) is measured in its own units. Per check of
the correct model: the smallest bias ``verify`` detects, (bound + 1.64) sqrt(mcse^2 + se_ref^2)
/ sd, the median over seeds (a bias of that size fails the check in ~95 % of runs).

Exit status 0 when the run completes, whatever the targets say (they are a measurement,
reported in the table and the JSON); 2 on bad input, nothing written; 130 when interrupted,
finished units kept.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from zoo.errors import UsageError
from zoo.sampling import DEFAULT_SEED, SamplerConfig
from zoo.outputs import write_atomically
from zoo.sbc import SbcConfig, SimulationStore, simulation_path
from zoo.workers import execute

#: default models, gmm last: it is by far the slowest
MODELS = ["single-coin", "two-factories", "mint", "rat-tumors", "gmm"]
QUICK_MODELS = ["single-coin", "two-factories"]
CORRECT = "correct"
#: one-sided normal quantile: a bias of (bound + Z_POWER) x scale fails a check 95 % of the time
Z_POWER = 1.64
#: the issue's targets
EFFECT_MIN_SD = 0.2
CATCH_RATE = 0.95
FALSE_ALARM_SEEDS = 20
DETECTABLE_MAX_SD = 0.15


@dataclass(frozen=True)
class PowerConfig:
    """What decides the numbers of every unit; a stored run is resumed only with the same."""

    sampler: SamplerConfig = SamplerConfig()
    sbc: SbcConfig = SbcConfig(sims=100)

    def identity(self) -> dict[str, Any]:
        sampler = {k: v for k, v in asdict(self.sampler).items() if k not in ("seed", "progressbar")}
        return {"sampler": sampler, "sbc": self.sbc.identity()}


QUICK = PowerConfig(SamplerConfig(draws=300, tune=300), SbcConfig(sims=10, draws=200, tune=200))


@dataclass(frozen=True)
class Unit:
    kind: str  # "verify" or "sbc"
    model: str
    fault: str  # a fault's name, or CORRECT
    index: int


# --- one unit (runs in a worker) ----------------------------------------------------------------


def instance(model: str, fault: str):
    from zoo.faults import faulty_model
    from zoo.registry import get_model

    return get_model(model) if fault == CORRECT else faulty_model(model, fault)


def run_unit(unit: Unit, config: PowerConfig) -> dict[str, Any]:
    """One verify run or one SBC simulation; a JSON-ready record."""
    model = instance(unit.model, unit.fault)
    if unit.kind == "sbc":
        from zoo.sbc import simulate_and_fit

        return simulate_and_fit(model, [], config.sbc, unit.index)
    from zoo.compare import parse_check, posterior_estimate, reference_sd
    from zoo.pipeline import run

    seed = DEFAULT_SEED + unit.index
    try:
        result = run(model, config=replace(config.sampler, seed=seed, progressbar=False))
    except Exception as err:  # a fault can break the fit itself: caught, not a crash of the run
        return {"index": unit.index, "seed": seed, "passed": False, "checks_passed": True,
                "converged": False, "problems": [f"the fit failed: {type(err).__name__}: {err}"],
                "bound": None, "checks": [], "seconds": {}}
    checks = []
    for row in result.checks.to_dict(orient="records"):
        var, index, _ = parse_check(row["name"])
        scalar = var if index is None else f"{var}[{index}]"
        draws_sd = None
        if var in result.fit.idata.posterior:
            draws_sd = posterior_estimate(result.fit.idata, f"{scalar}.sd").value
        exact_sd = reference_sd(result.reference, row["name"])
        checks.append({"name": row["name"], "passed": bool(row["passed"]),
                       **{k: float(row[k]) for k in ("reference", "estimate", "mcse", "z")},
                       "se_ref": float(result.reference.errors.get(row["name"], 0.0)),
                       "draws_sd": draws_sd, "reference_sd": exact_sd and exact_sd[0],
                       "derived_from": result.reference.derived.get(row["name"])})
    return {"index": unit.index, "seed": seed, "passed": result.passed,
            "checks_passed": bool(result.checks["passed"].all()),
            "converged": result.diagnostics.converged, "problems": result.diagnostics.problems,
            "bound": result.z_bound, "checks": checks, "seconds": result.seconds}


# --- storage --------------------------------------------------------------------------------------


class PowerStore:
    """``OUT/run.json`` (the configuration), verify records and per-fault SBC stores."""

    def __init__(self, folder: Path, config: PowerConfig):
        self.folder, self.config = Path(folder), config
        self.identity = config.identity()

    def check(self) -> None:
        """Refuse a folder of another configuration (before anything is written)."""
        stamp = self.folder / "run.json"
        if stamp.exists() and json.loads(stamp.read_text()) != self.identity:
            raise UsageError(f"{self.folder} holds power results of another sampler or SBC "
                             "configuration (e.g. --quick); choose another --out or delete it")

    def open(self) -> None:
        """Create the folder and its stamp, once."""
        if not (self.folder / "run.json").exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(self.folder / "run.json", json.dumps(self.identity, indent=1))

    def verify_path(self, model: str, fault: str, index: int) -> Path:
        return self.folder / model / fault / "verify" / f"seed-{index:04d}.json"

    def sbc(self, model: str, fault: str) -> SimulationStore:
        identity = {"model": f"{model}+{fault}", "settings": {}, **self.config.sbc.identity()}
        return SimulationStore(self.folder / model / fault / "sbc", identity)

    def has(self, unit: Unit) -> bool:
        if unit.kind == "verify":
            return self.verify_path(unit.model, unit.fault, unit.index).exists()
        return simulation_path(self.folder / unit.model / unit.fault / "sbc", unit.index).exists()

    def save(self, unit: Unit, record: dict[str, Any]) -> None:
        if unit.kind == "sbc":
            self.sbc(unit.model, unit.fault).save(record)
            return
        path = self.verify_path(unit.model, unit.fault, unit.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(record, default=float))

    def verify_records(self, model: str, fault: str, count: int) -> list[dict[str, Any]]:
        return [json.loads(self.verify_path(model, fault, i).read_text()) for i in range(count)]


# --- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    models: list[str]
    faults: dict[str, list[str]]
    seeds: int
    false_alarm_seeds: int
    quick: bool = False

    def units(self, sims: int) -> list[Unit]:
        """Every unit, model by model (gmm last by default), correct runs first."""
        units = []
        for model in self.models:
            units += [Unit("verify", model, CORRECT, i) for i in range(self.false_alarm_seeds)]
            for fault in self.faults[model]:
                units += [Unit("verify", model, fault, i) for i in range(self.seeds)]
                units += [Unit("sbc", model, fault, i) for i in range(sims)]
        return units


def run_power(plan: Plan, config: PowerConfig, out: Path, *, jobs: int = 1,
              scheduler: str | None = None) -> dict[str, Any]:
    """Run the units not yet stored under ``out``, then summarise all of them."""
    store = PowerStore(out, config)
    store.check()
    pending = [u for u in plan.units(config.sbc.sims) if not store.has(u)]
    start = time.perf_counter()
    for unit, record in execute(run_unit, pending, jobs, scheduler, config):
        store.open()  # on the first result: a scheduler that cannot be reached writes nothing
        store.save(unit, record)
    store.open()
    wall = time.perf_counter() - start
    summary = summarise(plan, config, store)
    summary.update(computed=len(pending), jobs=jobs, scheduler=scheduler, wall_seconds=wall)
    write_atomically(Path(out) / "summary.json", json.dumps(summary, indent=1, default=float))
    return summary


# --- summary --------------------------------------------------------------------------------------


def posterior_sds(reference: dict[str, float], correct: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per check that counts (a check derived from another is not a second chance to catch a
    fault): the posterior sd of its quantity (the reference's, else the median sd of the draws
    over the correct runs; None when it has no draws)."""
    from zoo.compare import parse_check

    sds = {}
    for check in correct[0]["checks"]:
        if check.get("derived_from"):
            continue
        var, index, _ = parse_check(check["name"])
        scalar = var if index is None else f"{var}[{index}]"
        draws = [c["draws_sd"] for r in correct for c in r["checks"] if c["name"] == check["name"]]
        if f"{scalar}.sd" in reference:
            sds[check["name"]] = reference[f"{scalar}.sd"]
        elif check.get("reference_sd"):
            sds[check["name"]] = check["reference_sd"]
        elif all(d is not None for d in draws):
            sds[check["name"]] = statistics.median(draws)
        else:
            sds[check["name"]] = None
    return sds


def scaled(shift: float, sd: float | None) -> float:
    return abs(shift) / sd if sd else abs(shift)


def fault_effect(model: str, fault: str, reference: dict[str, float], sds: dict, runs: list,
                 store: PowerStore) -> dict[str, Any]:
    """The largest shift of any check, in posterior sds (own units where there is no sd)."""
    cached = store.folder / model / fault / "faulty_reference.json"
    if cached.exists():
        exact = json.loads(cached.read_text())["values"]
    else:
        faulty = instance(model, fault)
        settings = faulty.parse_settings()
        exact = faulty.faulty_reference(faulty.load(None, settings), settings)
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cached, json.dumps({"values": exact}))
    if exact is not None:
        shifts = {name: exact[name] - reference[name] for name in sds if name in exact}
        how = "exact"
    else:
        shifts = {name: statistics.fmean(c["estimate"] for r in runs for c in r["checks"]
                                         if c["name"] == name) - reference[name] for name in sds}
        how = "fits"
    in_sd = {n: scaled(s, sds[n]) for n, s in shifts.items() if sds[n]}
    own = {n: abs(s) for n, s in shifts.items() if not sds[n]}
    worst = max(in_sd, key=in_sd.get) if in_sd else None
    return {"effect_sd": in_sd[worst] if worst else None, "worst_check": worst, "how": how,
            "own_units": own}


def summarise(plan: Plan, config: PowerConfig, store: PowerStore) -> dict[str, Any]:
    from zoo.sbc import summarise as sbc_summary

    models = {}
    for model in plan.models:
        records = store.verify_records(model, CORRECT, plan.false_alarm_seeds)
        correct = [r for r in records if r["checks"]] or records  # a failed fit has no checks
        reference = {c["name"]: c["reference"] for c in correct[0]["checks"]}
        sds = posterior_sds(reference, correct)
        faults = {}
        for fault in plan.faults[model]:
            runs = store.verify_records(model, fault, plan.seeds)
            fitted = [r for r in runs if r["checks"]] or runs
            sims = store.sbc(model, fault).load(config.sbc.sims)
            sbc = sbc_summary(instance(model, fault), sims, config.sbc)
            effect = fault_effect(model, fault, reference, sds, fitted, store)
            faulty = instance(model, fault)
            caught = [not r["passed"] for r in runs]
            rate = sum(caught) / len(runs)
            big = effect["effect_sd"] is not None and effect["effect_sd"] > EFFECT_MIN_SD
            faults[fault] = {
                "description": faulty.description,
                **effect,
                "verify_caught": sum(caught), "seeds": len(runs),
                "by_check": sum(not r["checks_passed"] for r in runs),
                "by_diagnostics": sum(not r["converged"] for r in runs),
                "sbc": {"simulations": len(sims), "passed": sbc["passed"],
                        "min_p_value": min(p["p_value"] for p in sbc["parameters"].values()),
                        "flagged": [n for n, p in sbc["parameters"].items() if p["flagged"]],
                        "divergences": sbc["divergences"],
                        "not_converged": sbc.get("not_converged", {}).get("count"),
                        "note": faulty.sbc_note},
                "target": ("met" if rate >= CATCH_RATE else "missed") if big else "n/a",
            }
        models[model] = {"false_alarms": sum(not r["passed"] for r in records),
                         "false_alarm_seeds": len(records),
                         "false_alarm_problems": sorted({p for r in records for p in r["problems"]}),
                         "detectable": detectable(correct, sds), "faults": faults}
    return {"config": config.identity(), "quick": plan.quick, "seeds": plan.seeds,
            "false_alarm_seeds": plan.false_alarm_seeds, "models": models,
            "targets": targets(models, plan)}


def detectable(correct: list[dict[str, Any]], sds: dict) -> dict[str, dict[str, Any]]:
    """Per check: the median over seeds of (bound + Z_POWER) sqrt(mcse^2 + se_ref^2), in
    posterior sds (own units where there is no sd)."""
    rows = {}
    for name, sd in sds.items():
        scales = [(r["bound"] + Z_POWER) * (c["mcse"] ** 2 + c["se_ref"] ** 2) ** 0.5
                  for r in correct for c in r["checks"] if c["name"] == name]
        rows[name] = {"bias": scaled(statistics.median(scales), sd), "in_sd": bool(sd)}
    return rows


def targets(models: dict, plan: Plan) -> dict[str, Any]:
    """The issue's three targets, each met or missed, with the cases that miss."""
    big = [(m, f) for m, v in models.items() for f, r in v["faults"].items() if r["target"] != "n/a"]
    uncaught = [f"{m}/{f}" for m, f in big if models[m]["faults"][f]["target"] == "missed"]
    alarms = {m: v["false_alarms"] for m, v in models.items() if v["false_alarms"]}
    few = [m for m, v in models.items() if v["false_alarm_seeds"] < FALSE_ALARM_SEEDS]
    worst = {m: max((r["bias"] for r in v["detectable"].values() if r["in_sd"]), default=0.0)
             for m, v in models.items()}
    return {
        f"faults over {EFFECT_MIN_SD} sd caught in >= {CATCH_RATE:.0%} of seeds": {
            "met": not uncaught, "faults": len(big), "missed": uncaught},
        f"0 false alarms in {FALSE_ALARM_SEEDS} seeds per model": {
            "met": not alarms and not few, "false_alarms": alarms, "too_few_seeds": few},
        f"smallest detectable bias <= {DETECTABLE_MAX_SD} sd for every check": {
            "met": all(b <= DETECTABLE_MAX_SD for b in worst.values()), "max_per_model": worst},
    }


# --- output ---------------------------------------------------------------------------------------


def console(summary: dict[str, Any], most: int = 6) -> str:
    """The fault table, the detectable-bias table, false alarms, targets and wall time."""
    lines = [f"{'model':14s} {'fault':26s} {'effect':>8s} {'how':5s} {'verify':>7s} "
             f"{'check/diag':>10s} {'sbc':22s} target"]
    for model, m in summary["models"].items():
        for fault, f in m["faults"].items():
            effect = "-" if f["effect_sd"] is None else f"{f['effect_sd']:.2f}"
            sbc = f["sbc"]
            verdict = ("FLAGGED" if sbc["flagged"] else "fits bad" if not sbc["passed"] else "ok"
                       ) + f" p={sbc['min_p_value']:.2g} ({sbc['simulations']})"
            lines.append(f"{model:14s} {fault:26s} {effect:>8s} {f['how']:5s} "
                         f"{f['verify_caught']:>3d}/{f['seeds']:<3d} "
                         f"{f['by_check']:>4d}/{f['by_diagnostics']:<5d} {verdict:22s} {f['target']}")
    lines.append("effect: largest shift of a checked quantity in posterior sds (exact: from the "
                 "fault's own exact answer; fits: mean of the faulty fits); verify: seeds caught; "
                 "check/diag: caught by a check / by diagnostics; sbc: FLAGGED (a parameter) or 'fits bad' "
                 "(too many fits diverged or did not converge), min p-value (simulations)")
    own = [f"{m}/{f}: {n} {v:.3g}" for m, mv in summary["models"].items()
           for f, fv in mv["faults"].items() for n, v in fv["own_units"].items()]
    if own:
        lines.append("shifts of checks without posterior draws, in their own units: " + "; ".join(own))
    lines.append("")
    lines.append(f"{'model':14s} {'check':28s} smallest detectable bias (posterior sds; * own units)")
    for model, m in summary["models"].items():
        rows = sorted(m["detectable"].items(), key=lambda kv: -kv[1]["bias"] if kv[1]["in_sd"] else 0)
        for name, row in rows[:most]:
            lines.append(f"{model:14s} {name:28s} {row['bias']:.3f}{'' if row['in_sd'] else ' *'}")
        if len(rows) > most:
            lines.append(f"{model:14s} ... {len(rows) - most} more checks (largest first; all in the JSON)")
    lines.append("")
    for model, m in summary["models"].items():
        lines.append(f"{model}: {m['false_alarms']} false alarms in {m['false_alarm_seeds']} seeds"
                     + (f" ({'; '.join(m['false_alarm_problems'])})" if m["false_alarm_problems"] else ""))
    lines += [target_line(name, target) for name, target in summary["targets"].items()]
    lines.append(f"{summary['computed']} units run now in {summary['wall_seconds']:.1f} s wall "
                 f"({summary['jobs']} jobs{', Dask ' + summary['scheduler'] if summary['scheduler'] else ''})")
    return "\n".join(lines)


def target_line(name: str, target: dict[str, Any]) -> str:
    """'target met/MISSED: ...', or 'not measured' where too few seeds ran to say."""
    if target.get("too_few_seeds") and not target.get("false_alarms"):
        return (f"target not measured: {name} (fewer seeds ran for "
                f"{', '.join(target['too_few_seeds'])})")
    return f"target {'met' if target['met'] else 'MISSED'}: {name}"


def site_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The fault table for the report site: one row per model and fault."""
    rows = [["model", "fault", "effect (posterior sds)", "verify caught", "SBC", "target"]]
    for model, m in summary["models"].items():
        for fault, f in m["faults"].items():
            effect = "-" if f["effect_sd"] is None else f"{f['effect_sd']:.2f} ({f['how']})"
            sbc = f["sbc"]
            verdict = "flagged" if sbc["flagged"] else "fits bad" if not sbc["passed"] else "ok"
            rows.append([model, f"{fault}: {f['description']}", effect,
                         f"{f['verify_caught']}/{f['seeds']}",
                         f"{verdict} ({sbc['simulations']} sims)", f["target"]])
    return rows


def site_notes(summary: dict[str, Any]) -> list[str]:
    """False alarms, the worst smallest detectable bias per model, the targets, the run."""
    notes = []
    for model, m in summary["models"].items():
        in_sd = {n: r["bias"] for n, r in m["detectable"].items() if r["in_sd"]}
        worst = max(in_sd, key=in_sd.get) if in_sd else None
        notes.append(f"{model}: {m['false_alarms']} false alarms in {m['false_alarm_seeds']} seeds"
                     + (f"; smallest detectable bias at most {in_sd[worst]:.3f} sd ({worst})"
                        if worst else ""))
    notes += [target_line(name, target) for name, target in summary["targets"].items()]
    if summary["quick"]:
        notes.insert(0, "a --quick run: a smoke test with small draws and few seeds, not the "
                        "benchmark")
    notes.append(f"{summary['seeds']} verify seeds per fault; {summary['jobs']} jobs, "
                 f"{summary['wall_seconds']:.0f} s for the units run last")
    return notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo power`` options."""
    parser.add_argument("models", nargs="*", metavar="MODEL", help="models (default: all, gmm last)")
    parser.add_argument("--seeds", type=int, default=10, help="verify runs per fault (default 10)")
    parser.add_argument("--false-alarm-seeds", type=int, default=FALSE_ALARM_SEEDS,
                        help=f"verify runs per correct model (default {FALSE_ALARM_SEEDS})")
    parser.add_argument("--sims", type=int, default=100, help="SBC simulations per fault (default 100)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: the CPUs)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://HOST:PORT)")
    parser.add_argument("--out", type=Path, help="output folder (default reports/power, "
                        "reports/power-quick with --quick); a rerun resumes")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke test: single-coin and two-factories, their quick faults, "
                             "2 seeds, small draws, 10 simulations")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")


def plan_from(args: argparse.Namespace) -> tuple[Plan, PowerConfig]:
    """The plan and configuration the options ask for; UsageError for bad ones."""
    from zoo.faults import faults_of
    from zoo.registry import all_models

    known = list(all_models())
    for name in args.models:
        if name not in known:
            raise UsageError(f"unknown model {name!r}; known models: {', '.join(known)}")
        if not faults_of(name):
            raise UsageError(f"{name} has no injected faults (zoo/faults.py)")
    for option in ("seeds", "false_alarm_seeds", "sims", "jobs"):
        if getattr(args, option) < 1:
            raise UsageError(f"--{option.replace('_', '-')} must be at least 1")
    config = QUICK if args.quick else replace(PowerConfig(), sbc=SbcConfig(sims=args.sims))
    names = args.models or (QUICK_MODELS if args.quick else [m for m in MODELS if m in known])
    faults = {m: faults_of(m, quick=args.quick) or faults_of(m) for m in names}
    if args.quick:
        return Plan(names, faults, 2, 2, quick=True), config
    return Plan(names, faults, args.seeds, args.false_alarm_seeds), config


def power_command(args: argparse.Namespace) -> int:
    """``zoo power``: run, print the tables (or one JSON document), write the summary into
    ``args.out``."""
    plan, config = plan_from(args)
    out = args.out
    try:
        summary = run_power(plan, config, out, jobs=args.jobs, scheduler=args.scheduler)
    except KeyboardInterrupt:
        print(f"zoo: interrupted; finished units are kept in {out}, a rerun resumes", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, indent=1, default=float))
    else:
        print(console(summary))
        print(f"wrote {out}/summary.json")
    return 0
