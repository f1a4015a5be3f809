"""``zoo power``: how strong is each check? Injected faults (:mod:`zoo.core.faults`) against
``verify`` and SBC, false alarms of the correct models, and the smallest bias each check detects.

Units of work, each stored as it finishes (one JSON file, written atomically, stamped with the
:func:`zoo.core.reference_cache.code_key` of the code that made it) so that a rerun skips those made
by the same code and recomputes the others, and run in this process, in ``--jobs`` spawned
worker processes or on a Dask cluster (``--scheduler``) like ``zoo sbc``:

- ``verify``: one full :func:`zoo.core.pipeline.run` of a model, faulty or correct, with the default
  :class:`~zoo.core.sampling.SamplerConfig` but seed ``DEFAULT_SEED + i``; stored in
  ``OUT/MODEL/FAULT/verify/seed-IIII.json`` (FAULT ``correct`` for the model itself). A
  correct run whose reference draws random numbers (the model's ``reference_seed``: gmm's
  importance sampling, missing-data's exact draws) compares against a reference of its own
  seed, ``FALSE_ALARM_REFERENCE_SEED + i``, so that its false alarms are independent: a shared
  draw would carry one Monte Carlo error into every seed. Exact, quadrature and grid references
  are the same answer for every seed.
- ``sbc``: one simulation of :func:`zoo.tools.sbc.simulate_and_fit` on the faulty model, stored by
  :class:`zoo.tools.sbc.SimulationStore` in ``OUT/MODEL/FAULT/sbc`` (the layout of ``zoo sbc``).
- ``effect``: the faulty model's own answer, ``OUT/MODEL/FAULT/effect.json``: exact where the
  fault has one (``faulty_reference``), else a separate long run (``LONG_RUN`` times the draws,
  a seed no verify unit uses), never the fits being judged.

An exception in a unit (a fit that breaks, a bug in the fault's own code) is stored as an
*error*: reported apart, never a catch. A verify seed is caught when a check fails: the
log-density cross-check (the run's JSON ``density_check``; absent: not run), a moment check
(a comparison with the reference) or the diagnostics (R-hat, ESS, divergences, stuck chains).

Measures, per fault: its *effect*, the largest shift of any checked quantity in posterior sds
(|faulty answer - reference| / sd); how often ``verify`` catches it and by which check; whether
SBC flags it. The posterior sd of a check ``v.mean`` or ``v.sd`` is the reference's ``v.sd``
when there is one, else the sd of v's draws (median over the correct model's seeds); a check
without draws (SMC's ``log_bf``, rat tumors' predictive ``y_new.mean``) is measured in its own
units. Per check of the correct model: the smallest bias ``verify`` detects, (bound + 1.64)
sqrt(mcse^2 + se_ref^2) / sd, the median over seeds (a bias of that size fails the check in
~95 % of runs). Per correct model: its false-alarm rate (false alarms / correct runs that
finished, with a one-sided 95 % upper bound), the kind of reference the runs were judged
against and whether each had a draw of its own.

Exit status 0 when the run completes, whatever the targets say (they are a measurement,
reported in the table and the JSON); 2 on bad input, nothing written; 130 when interrupted,
finished units kept.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from zoo.core import pipeline, progress_lines
from zoo.core.arguments import quiet_option
from zoo.core.compare import parse_check, posterior_estimate, reference_sd, sd_check_of
from zoo.core.deferred import stats
from zoo.core.errors import UsageError
from zoo.core.faults import faults_of, faulty_model
from zoo.core.outputs import write_atomically
from zoo.core.reference_cache import Unhashable, code_key
from zoo.core.registry import all_models, get_model
from zoo.core.sampling import DEFAULT_SEED, SamplerConfig
from zoo.core.workers import execute
from zoo.tools.sbc import (SbcConfig, SimulationStore, simulate_and_fit, simulation_path,
                           summarise as sbc_summary)

CORRECT = "correct"
#: what can catch a fault in a verify run, in the order reported
CATCHERS = ("log density", "moment checks", "diagnostics")
#: a fault's effect without an exact answer: one run of this many times the draws...
LONG_RUN = 4
#: ... at a seed no verify unit uses
LONG_RUN_SEED = DEFAULT_SEED - 1
#: one-sided normal quantile: a bias of (bound + Z_POWER) x scale fails a check 95 % of the time
Z_POWER = 1.64
#: false-alarm run i's reference draws at seed FALSE_ALARM_REFERENCE_SEED + i: no model's own
#: reference seed (``verify``'s, 0) and apart from the sampler's (DEFAULT_SEED + i)
FALSE_ALARM_REFERENCE_SEED = 1_000
#: the reference kinds (zoo.core.results.REFERENCE_KINDS) with a Monte Carlo error of their own
RANDOM_KINDS = ("exact draws", "importance sampling", "reference draws")
#: a false-alarm rate's upper confidence bound (one-sided, Clopper-Pearson)
RATE_CONFIDENCE = 0.95
#: the issue's targets
EFFECT_MIN_SD = 0.2
CATCH_RATE = 0.95
FALSE_ALARM_SEEDS = 20
DETECTABLE_MAX_SD = 0.15
#: marks a summary file as zoo power's own (a --results file without it is not overwritten)
KIND = "zoo power summary"


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
    kind: str  # "verify", "sbc" or "effect"
    model: str
    fault: str  # a fault's name, or CORRECT
    index: int


# --- one unit (runs in a worker) ----------------------------------------------------------------


def instance(model: str, fault: str):
    return get_model(model) if fault == CORRECT else faulty_model(model, fault)


def unit_model(unit: Unit):
    """The model a unit runs; for a false-alarm run of a model whose reference draws random
    numbers, a copy whose reference draws at the run's own seed (the reference cache keys on
    the instance's state, so each seed's reference is cached apart from verify's)."""
    model = instance(unit.model, unit.fault)
    if unit.kind == "verify" and unit.fault == CORRECT and model.reference_seed is not None:
        model = copy.copy(model)  # never the registry's own instance
        model.reference_seed = FALSE_ALARM_REFERENCE_SEED + unit.index
    return model


def code_of(model: str, fault: str) -> str:
    """The code key of ``model`` with ``fault``; "" when it has none (its stored units are then
    never reused)."""
    try:
        return code_key(instance(model, fault))
    except Unhashable:
        return ""


def run_unit(unit: Unit, config: PowerConfig) -> dict[str, Any]:
    """One verify run, SBC simulation or fault answer; a JSON-ready record stamped with the
    code that made it. An exception is recorded as the unit's error, never a catch."""
    try:
        model = unit_model(unit)
        if unit.kind == "sbc":
            found = simulate_and_fit(model, [], config.sbc, unit.index)
        elif unit.kind == "effect":
            found = fault_answer(model, config.sampler)
        else:
            found = verify_record(model, unit.index, config.sampler)
    except Exception as err:  # the fault's code or the fit it breaks; reported apart
        found = {"error": f"{type(err).__name__}: {err}"}
    seed = {"seed": DEFAULT_SEED + unit.index} if unit.kind == "verify" else {}
    return {"index": unit.index, **seed, **found, "code": code_of(unit.model, unit.fault)}


def verify_record(model, index: int, sampler: SamplerConfig) -> dict[str, Any]:
    """A verify run at seed ``DEFAULT_SEED + index``: each check, the diagnostics, the
    log-density cross-check's verdict (None when the run has none), and the reference's kind
    and seed (None: it draws no random numbers)."""
    result = pipeline.run(model, config=replace(sampler, seed=DEFAULT_SEED + index, progressbar=False))
    checks = []
    for row in result.checks.to_dict(orient="records"):
        draws_sd = None
        if parse_check(row["name"])[0] in result.fit.idata.posterior:
            draws_sd = posterior_estimate(result.fit.idata, sd_check_of(row["name"])).value
        exact_sd = reference_sd(result.reference, row["name"])
        checks.append({"name": row["name"], "passed": bool(row["passed"]),
                       **{k: float(row[k]) for k in ("reference", "estimate", "mcse", "z")},
                       "se_ref": float(result.reference.errors.get(row["name"], 0.0)),
                       "draws_sd": draws_sd, "reference_sd": exact_sd and exact_sd[0],
                       "derived_from": result.reference.derived.get(row["name"])})
    density = result.to_dict().get("density_check")
    return {"density_passed": None if density is None else bool(density["passed"]),
            "checks_passed": bool(result.checks["passed"].all()),
            "converged": result.diagnostics.converged, "problems": result.diagnostics.problems,
            "bound": result.z_bound, "checks": checks, "seconds": result.seconds,
            "reference_kind": result.reference.kind, "reference_seed": model.reference_seed}


def fault_answer(faulty, sampler: SamplerConfig) -> dict[str, Any]:
    """The faulty model's own answer per check: its exact one, else the estimates of one
    separate run of ``LONG_RUN`` times the draws (with their MCSEs)."""
    settings = faulty.parse_settings()
    exact = faulty.faulty_reference(faulty.load(None, settings), settings)
    if exact is not None:
        return {"how": "exact", "values": exact}
    draws = LONG_RUN * (sampler.draws or faulty.draws)
    result = pipeline.run(faulty, config=replace(sampler, draws=draws, seed=LONG_RUN_SEED, progressbar=False))
    rows = result.checks.to_dict(orient="records")
    return {"how": "long run", "draws": draws, "values": {r["name"]: float(r["estimate"]) for r in rows},
            "mcse": {r["name"]: float(r["mcse"]) for r in rows}}


# --- storage --------------------------------------------------------------------------------------


class PowerStore:
    """``OUT/run.json`` (the configuration), verify records, fault answers and per-fault SBC
    stores."""

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

    def path(self, unit: Unit) -> Path:
        base = self.folder / unit.model / unit.fault
        if unit.kind == "sbc":
            return simulation_path(base / "sbc", unit.index)
        if unit.kind == "effect":
            return base / "effect.json"
        return base / "verify" / f"seed-{unit.index:04d}.json"

    def sbc(self, model: str, fault: str) -> SimulationStore:
        identity = {"model": f"{model}+{fault}", "settings": {}, **self.config.sbc.identity()}
        return SimulationStore(self.folder / model / fault / "sbc", identity)

    def has(self, unit: Unit, code: str) -> bool:
        """Whether the unit is stored, made by the code whose key is ``code``."""
        path = self.path(unit)
        return bool(code) and path.exists() and json.loads(path.read_text()).get("code") == code

    def save(self, unit: Unit, record: dict[str, Any]) -> None:
        if unit.kind == "sbc":
            self.sbc(unit.model, unit.fault).save(record)
            return
        path = self.path(unit)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(record, default=float))

    def records(self, kind: str, model: str, fault: str, count: int) -> list[dict[str, Any]]:
        return [json.loads(self.path(Unit(kind, model, fault, i)).read_text()) for i in range(count)]


# --- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    models: list[str]
    faults: dict[str, list[str]]
    seeds: int
    false_alarm_seeds: int
    quick: bool = False

    def units(self, sims: int) -> list[Unit]:
        """Every unit, model by model, correct runs first, each fault's answer before its fits."""
        units = []
        for model in self.models:
            units += [Unit("verify", model, CORRECT, i) for i in range(self.false_alarm_seeds)]
            for fault in self.faults[model]:
                units.append(Unit("effect", model, fault, 0))
                units += [Unit("verify", model, fault, i) for i in range(self.seeds)]
                units += [Unit("sbc", model, fault, i) for i in range(sims)]
        return units

    def code_keys(self) -> dict[str, str]:
        """``MODEL/FAULT`` -> the code key its units are stored under, computed now."""
        return {f"{m}/{f}": code_of(m, f) for m in self.models for f in [CORRECT, *self.faults[m]]}


def run_power(plan: Plan, config: PowerConfig, out: Path, *, jobs: int = 1,
              scheduler: str | None = None) -> dict[str, Any]:
    """Run the units not yet stored under ``out`` by this code, then summarise all of them."""
    store = PowerStore(out, config)
    store.check()
    code = {"git_commit": git_commit(), "keys": plan.code_keys()}  # the code the units run
    codes = code["keys"]
    pending = [u for u in plan.units(config.sbc.sims)
               if not store.has(u, codes[f"{u.model}/{u.fault}"])]
    start = time.perf_counter()
    finished = execute(run_unit, pending, jobs, scheduler, config)
    for unit, record in progress_lines.counted(finished, "unit", len(pending), label=_named):
        store.open()  # on the first result: a scheduler that cannot be reached writes nothing
        store.save(unit, record)
    store.open()
    wall = time.perf_counter() - start
    summary = summarise(plan, config, store)
    summary.update(computed=len(pending), jobs=jobs, scheduler=scheduler, wall_seconds=wall,
                   code=code)
    write_atomically(Path(out) / "summary.json", json.dumps(summary, indent=1, default=float))
    return summary


def _named(finished: tuple[Unit, dict]) -> str:
    unit = finished[0]
    return f"{unit.model} {unit.fault} {unit.kind} {unit.index}"


def git_commit() -> str | None:
    """The checkout's commit (with ``+dirty`` when it has uncommitted changes), or None
    where the zoo is not a git checkout."""
    here = Path(__file__).parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


# --- summary --------------------------------------------------------------------------------------


def posterior_sds(reference: dict[str, float], correct: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per check that counts (a check derived from another is not a second chance to catch a
    fault): the posterior sd of its quantity (the reference's, else the median sd of the draws
    over the correct runs; None when it has no draws)."""
    sds = {}
    for check in correct[0]["checks"]:
        if check.get("derived_from"):
            continue
        sd_check = sd_check_of(check["name"])
        draws = [c["draws_sd"] for r in correct for c in r["checks"] if c["name"] == check["name"]]
        if sd_check in reference:
            sds[check["name"]] = reference[sd_check]
        elif check.get("reference_sd"):
            sds[check["name"]] = check["reference_sd"]
        elif all(d is not None for d in draws):
            sds[check["name"]] = statistics.median(draws)
        else:
            sds[check["name"]] = None
    return sds


def scaled(shift: float, sd: float | None) -> float:
    return abs(shift) / sd if sd else abs(shift)


def fault_effect(answer: dict[str, Any], reference: dict[str, float], sds: dict) -> dict[str, Any]:
    """The largest shift of any check between the fault's own answer and the reference, in
    posterior sds (own units where there is no sd); how "error" when the answer failed."""
    if "error" in answer:
        return {"effect_sd": None, "worst_check": None, "how": "error", "own_units": {},
                "effect_error": answer["error"]}
    shifts = {name: answer["values"][name] - reference[name] for name in sds if name in answer["values"]}
    in_sd = {n: scaled(s, sds[n]) for n, s in shifts.items() if sds[n]}
    own = {n: abs(s) for n, s in shifts.items() if not sds[n]}
    worst = max(in_sd, key=in_sd.get) if in_sd else None
    return {"effect_sd": in_sd[worst] if worst else None, "worst_check": worst,
            "how": answer["how"], "own_units": own}


def seed_outcome(record: dict[str, Any]) -> dict[str, Any]:
    """One verify seed (and its reference's seed, None where it draws none): the checks that
    failed (CATCHERS), or its error."""
    if "error" in record:
        return {"seed": record["seed"], "error": record["error"], "caught_by": []}
    failed = {"log density": record.get("density_passed") is False,
              "moment checks": not record["checks_passed"],
              "diagnostics": not record["converged"]}
    return {"seed": record["seed"], "reference_seed": record.get("reference_seed"),
            "caught_by": [name for name in CATCHERS if failed[name]],
            "worst_z": max((abs(c["z"]) for c in record["checks"]), default=None)}


def tally(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Seeds caught (by any check; an error is not a catch), per check, and errors."""
    return {"verify_caught": sum(bool(o["caught_by"]) for o in outcomes), "seeds": len(outcomes),
            "caught_by": {name: sum(name in o["caught_by"] for o in outcomes) for name in CATCHERS},
            "errors": sum("error" in o for o in outcomes),
            "error_messages": sorted({o["error"] for o in outcomes if "error" in o})}


def sbc_verdict(model: str, fault: str, config: PowerConfig, store: PowerStore) -> dict[str, Any]:
    """SBC's verdict on the fault's simulations that ran (those that raised are counted apart)."""
    faulty = instance(model, fault)
    loaded = store.sbc(model, fault).load(config.sbc.sims)
    sims = [s for s in loaded if "error" not in s]
    verdict = {"simulations": len(sims), "errors": len(loaded) - len(sims), "note": faulty.sbc_note}
    if not sims:
        return {**verdict, "passed": False, "min_p_value": None, "flagged": [], "divergences": 0,
                "not_converged": None}
    sbc = sbc_summary(faulty, sims, config.sbc)
    return {**verdict, "passed": sbc["passed"],
            "min_p_value": min(p["p_value"] for p in sbc["parameters"].values()),
            "flagged": [n for n, p in sbc["parameters"].items() if p["flagged"]],
            "divergences": sbc["divergences"],
            "not_converged": sbc.get("not_converged", {}).get("count")}


def summarise(plan: Plan, config: PowerConfig, store: PowerStore) -> dict[str, Any]:
    models = {}
    for model in plan.models:
        records = store.records("verify", model, CORRECT, plan.false_alarm_seeds)
        correct = [r for r in records if "error" not in r and r["checks"]]
        outcomes = [seed_outcome(r) for r in records]
        alarms = tally(outcomes)
        summary = {"settings": instance(model, CORRECT).setting_texts(),
                   "false_alarms": alarms["verify_caught"], "false_alarm_seeds": len(records),
                   **false_alarm_rate(alarms["verify_caught"], alarms["seeds"] - alarms["errors"]),
                   **false_alarm_reference([r for r in records if "error" not in r]),
                   "false_alarm_errors": alarms["errors"], "false_alarms_by": alarms["caught_by"],
                   "false_alarm_problems": sorted({p for r in correct for p in r["problems"]}
                                                  | set(alarms["error_messages"])),
                   "false_alarm_per_seed": outcomes, "detectable": {}, "faults": {}}
        models[model] = summary
        if not correct:  # nothing to measure the faults against
            continue
        reference = {c["name"]: c["reference"] for c in correct[0]["checks"]}
        sds = posterior_sds(reference, correct)
        summary["detectable"] = detectable(correct, sds)
        for fault in plan.faults[model]:
            (answer,) = store.records("effect", model, fault, 1)
            effect = fault_effect(answer, reference, sds)
            outcomes = [seed_outcome(r) for r in store.records("verify", model, fault, plan.seeds)]
            counts = tally(outcomes)
            big = effect["effect_sd"] is not None and effect["effect_sd"] > EFFECT_MIN_SD
            rate = counts["verify_caught"] / counts["seeds"]
            summary["faults"][fault] = {
                "description": instance(model, fault).description, **effect, **counts,
                "sbc": sbc_verdict(model, fault, config, store),
                "target": ("met" if rate >= CATCH_RATE else "missed") if big else "n/a",
                "per_seed": outcomes}
    return {"kind": KIND, "config": config.identity(), "quick": plan.quick, "seeds": plan.seeds,
            "false_alarm_seeds": plan.false_alarm_seeds, "models": models,
            "targets": targets(models, plan)}


def false_alarm_rate(alarms: int, runs: int) -> dict[str, float | None]:
    """False alarms per correct run that finished (None when none did), and the rate's upper
    bound at RATE_CONFIDENCE (one-sided Clopper-Pearson: 0 in 20 still allows 14 %)."""
    if not runs:
        return {"false_alarm_rate": None, "false_alarm_rate_upper": None}
    upper = 1.0 if alarms == runs else float(stats.beta.ppf(RATE_CONFIDENCE, alarms + 1, runs - alarms))
    return {"false_alarm_rate": alarms / runs, "false_alarm_rate_upper": upper}


def false_alarm_reference(correct: list[dict[str, Any]]) -> dict[str, str | None]:
    """What the correct runs were compared with: the reference's kind(s), and whether each run
    had a random draw of its own seed ("own draw"), all shared one ("shared draw": its Monte
    Carlo error is in every run alike, so their false alarms are not independent) or the
    reference has no Monte Carlo error ("same answer")."""
    kinds = sorted({r.get("reference_kind", "unstated") for r in correct})
    seeds = [r.get("reference_seed") for r in correct]
    if not kinds:
        how = None
    elif not set(kinds) & set(RANDOM_KINDS):
        how = "same answer"
    elif None not in seeds and len(set(seeds)) == len(seeds):
        how = "own draw"
    else:
        how = "shared draw"
    return {"reference_kind": " / ".join(kinds) or None, "reference_per_seed": how}


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


def fault_rows(summary: dict[str, Any], described: bool = False) -> list[list[str]]:
    """The fault table, one row per model and fault (the fault's description beside its name
    with ``described``): the console's, the site's and docs/power.md's."""
    rows = [["model", "fault", "effect (posterior sds)", "verify caught",
             "by " + " / ".join(CATCHERS), "errors", "SBC", "target"]]
    for model, m in summary["models"].items():
        for fault, f in m["faults"].items():
            effect = "error" if f["how"] == "error" else "-" if f["effect_sd"] is None else (
                f"{f['effect_sd']:.2f} ({f['how']})")
            effect += "".join(f"; {name} {shift:.3g}" for name, shift in f["own_units"].items())
            rows.append([model, f"{fault}: {f['description']}" if described else fault, effect,
                         f"{f['verify_caught']}/{f['seeds']}",
                         " / ".join(str(f["caught_by"][name]) for name in CATCHERS),
                         str(f["errors"]), sbc_text(f["sbc"]), f["target"]])
    return rows


def sbc_text(sbc: dict[str, Any]) -> str:
    if not sbc["simulations"]:
        verdict = "no simulation ran"
    elif sbc["flagged"]:
        verdict = f"flagged (p = {sbc['min_p_value']:.2g})"
    else:
        verdict = "fits bad" if not sbc["passed"] else "not flagged"
    errors = f", {sbc['errors']} errors" if sbc["errors"] else ""
    return f"{verdict} ({sbc['simulations']} sims{errors})"


#: how a model's false-alarm runs were referenced (``false_alarm_reference``), in words
PER_SEED_TEXT = {"own draw": "a draw of its own seed for each run",
                 "shared draw": "ONE draw shared by every run (not independent)",
                 "same answer": "the same answer for every run (no Monte Carlo error)"}


def false_alarm_lines(summary: dict[str, Any]) -> list[str]:
    """Per model: false alarms (by which check), the measured rate and its upper bound, the
    reference they were judged against, and errors of the correct model's runs."""
    lines = []
    for model, m in summary["models"].items():
        by = ", ".join(f"{n} {m['false_alarms_by'][n]}" for n in CATCHERS if m["false_alarms_by"][n])
        errors = f"; {m['false_alarm_errors']} errors" if m["false_alarm_errors"] else ""
        rate = m.get("false_alarm_rate")
        measured = "" if rate is None else (
            f"; rate {rate:.0%}, at most {m['false_alarm_rate_upper']:.0%} at "
            f"{RATE_CONFIDENCE:.0%} confidence")
        reference = m.get("reference_per_seed")
        against = f"; reference {m['reference_kind']}, {PER_SEED_TEXT[reference]}" if reference else ""
        lines.append(f"{model}: {m['false_alarms']} false alarms in {m['false_alarm_seeds']} seeds"
                     + (f" ({by})" if by else "") + measured + against + errors)
    return lines


def console(summary: dict[str, Any], most: int = 6) -> str:
    """The fault table, the detectable-bias table, false alarms, targets and wall time."""
    rows = fault_rows(summary)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.append("effect: largest shift of a checked quantity in posterior sds, from the fault's "
                 "own answer (exact, or a separate long run), checks without draws in their own "
                 "units after ';'; verify: seeds caught by a failed check (an error is no catch); "
                 "SBC: flagged (a parameter) or 'fits bad' (too many fits diverged or did not "
                 "converge), with the min p-value")
    lines.append("")
    lines.append(f"{'model':14s} {'check':28s} smallest detectable bias (posterior sds; * own units)")
    for model, m in summary["models"].items():
        ranked = sorted(m["detectable"].items(), key=lambda kv: -kv[1]["bias"] if kv[1]["in_sd"] else 0)
        for name, row in ranked[:most]:
            lines.append(f"{model:14s} {name:28s} {row['bias']:.3f}{'' if row['in_sd'] else ' *'}")
        if len(ranked) > most:
            lines.append(f"{model:14s} ... {len(ranked) - most} more checks (largest first; all in the JSON)")
    lines.append("")
    lines += false_alarm_lines(summary)
    lines += [f"  {model}: {problem}" for model, m in summary["models"].items()
              for problem in m["false_alarm_problems"]]
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
    """The fault table for the report site."""
    return fault_rows(summary, described=True)


def site_notes(summary: dict[str, Any]) -> list[str]:
    """False alarms, the worst smallest detectable bias per model, the targets, the run."""
    notes = []
    for line, m in zip(false_alarm_lines(summary), summary["models"].values()):
        in_sd = {n: r["bias"] for n, r in m["detectable"].items() if r["in_sd"]}
        worst = max(in_sd, key=in_sd.get) if in_sd else None
        notes.append(line + (f"; smallest detectable bias at most {in_sd[worst]:.3f} sd ({worst})"
                             if worst else ""))
    notes += [target_line(name, target) for name, target in summary["targets"].items()]
    if summary["quick"]:
        notes.insert(0, "a --quick run: a smoke test with small draws and few seeds, not the "
                        "benchmark")
    notes.append(f"{summary['seeds']} verify seeds per fault; {summary['jobs']} jobs, "
                 f"{summary['wall_seconds']:.0f} s for the units run last")
    return notes


def readme_table(summary: dict[str, Any]) -> str:
    """The power table of docs/power.md (markdown): the fault table, false alarms, and the code
    and settings it came from."""
    rows = fault_rows(summary)
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + " --- |" * len(rows[0]))
    code = summary["code"]
    sampler = summary["config"]["sampler"]
    lines += ["", *[f"- {line}" for line in false_alarm_lines(summary)],
              f"- From code {code['git_commit'] or 'outside git'}; {summary['seeds']} verify seeds "
              f"per fault, {summary['false_alarm_seeds']} per correct model; {sampler['chains']} "
              f"chains x {sampler['draws'] or 'the default'} draws."]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo power`` options."""
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="models (default: every registered model)")
    parser.add_argument("--all", action="store_true", help="every registered model")
    parser.add_argument("--seeds", type=int, default=10, help="verify runs per fault (default 10)")
    parser.add_argument("--false-alarm-seeds", type=int, default=FALSE_ALARM_SEEDS,
                        help=f"verify runs per correct model (default {FALSE_ALARM_SEEDS})")
    parser.add_argument("--sims", type=int, default=100, help="SBC simulations per fault (default 100)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: the CPUs)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://HOST:PORT)")
    parser.add_argument("--out", type=Path, help="output folder (default reports/power, "
                        "reports/power-quick with --quick); a rerun resumes")
    parser.add_argument("--results", type=Path, metavar="FILE",
                        help="also write the summary (per fault and seed, with the code version "
                             "and settings) to FILE, e.g. benchmarks/results/power.json")
    parser.add_argument("--readme-table", type=Path, metavar="SUMMARY",
                        help="print docs/power.md's power table from a summary JSON and exit")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke test: the models that mark a fault quick, those faults, "
                             "2 seeds, small draws, 10 simulations")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")
    quiet_option(parser)


def plan_from(args: argparse.Namespace) -> tuple[Plan, PowerConfig]:
    """The plan and configuration the options ask for; UsageError for bad ones."""
    known = list(all_models())
    if args.all and args.models:
        raise UsageError("give models or --all, not both")
    for name in args.models:
        if name not in known:
            raise UsageError(f"unknown model {name!r}; known models: {', '.join(known)}")
    for option in ("seeds", "false_alarm_seeds", "sims", "jobs"):
        if getattr(args, option) < 1:
            raise UsageError(f"--{option.replace('_', '-')} must be at least 1")
    check_results_file(args.results)
    config = QUICK if args.quick else replace(PowerConfig(), sbc=SbcConfig(sims=args.sims))
    names = args.models or (quick_models() if args.quick else known)
    faults = {m: faults_of(m, quick=args.quick) or faults_of(m) for m in names}
    if args.quick:
        return Plan(names, faults, 2, 2, quick=True), config
    return Plan(names, faults, args.seeds, args.false_alarm_seeds), config


def quick_models() -> list[str]:
    """The CI smoke test's models: those that mark a fault quick (every registered model is the
    default otherwise)."""
    return [name for name in all_models() if faults_of(name, quick=True)]


def read_summary(path: Path) -> dict[str, Any]:
    """A summary written by ``zoo power``; UsageError otherwise."""
    try:
        summary = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: not a zoo power summary (not readable JSON: {err})") from None
    if not isinstance(summary, dict) or summary.get("kind") != KIND:
        raise UsageError(f"{path}: not a zoo power summary (no \"kind\": \"{KIND}\")")
    return summary


def check_results_file(path: Path | None) -> None:
    """``--results FILE`` may replace only an earlier summary of zoo power's, and must be
    writable (checked before the run, not after it)."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"--results {path}: is a folder; give a file name")
    if path.exists():
        read_summary(path)
    folder = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UsageError(f"--results {path}: cannot write in {folder}")


def power_command(args: argparse.Namespace) -> int:
    """``zoo power``: run, print the tables (or one JSON document), write the summary into
    ``args.out`` (and ``--results``); or, with ``--readme-table``, print docs/power.md's table."""
    if args.readme_table:
        print(readme_table(read_summary(args.readme_table)))
        return 0
    plan, config = plan_from(args)
    out = args.out
    try:
        summary = run_power(plan, config, out, jobs=args.jobs, scheduler=args.scheduler)
    except KeyboardInterrupt:
        print(f"zoo: interrupted; finished units are kept in {out}, a rerun resumes", file=sys.stderr)
        return 130
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(args.results, json.dumps(summary, indent=1, default=float) + "\n")
    if args.json:
        print(json.dumps(summary, indent=1, default=float))
    else:
        print(console(summary))
        print(f"wrote {out}/summary.json" + (f" and {args.results}" if args.results else ""))
    return 0
