"""Simulation-based calibration (Talts et al. 2018): does the fit recover what was simulated?

For simulation i: draw parameters from the prior and data of the model's default shape
(``Calibration.simulate``), fit with NUTS, and turn the true value of every scalar parameter
into a probability integral transform u = (rank among L thinned draws + U) / (L + 1),
U ~ Uniform(0, 1) breaking ties. A discrete parameter the model marginalises (the factory of
``two-factories``) gets the randomised PIT of its posterior probabilities,
u = sum_{k < m} p_k + U p_m. A calibrated fit gives uniform u.

Uniformity test: the ECDF of the N values of u against the simultaneous band of Säilynoja et
al. (2022), as a p-value: the smallest two-sided binomial tail probability of the ECDF over
the grid, compared with its distribution under uniformity (simulated once). A parameter is
flagged when p < ALPHA / (number of parameters) (Bonferroni: the model fails with
probability <= ALPHA when calibrated); the plotted band is drawn at that same level.

Sampler and fit health. Each fit runs the NUTS settings ``zoo verify`` runs: nutpie, target
acceptance 0.8, 400 tuning steps, low-rank mass-matrix adaptation (``SamplerConfig.resolved``
and ``sample_nutpie``'s default, which every model's fit uses), unless ``--tune``,
``--target-accept`` or ``--adaptation`` say otherwise; only the size differs (2 chains x 500
draws, not verify's 4 x 1000). They are part of a run's identity. A fit *diverged* when it had
any divergent transition; it *did not converge* when, over the scalars SBC ranks, R-hat > 1.05,
bulk ESS < 100, or either is undefined (NaN). Verify's 1.01 / 400 suit 4 x 1000 draws: with
2 x 500 R-hat > 1.01 tripped by chance in 5-11% of correct fits (four of the models). The
verdict fails when more than 1% of fits diverged, or more than 1% did not converge.

Why these limits (measured: docs/calibration.md): with 200 simulations each, no fit of the
five models diverged or crossed 1.05 / 100, so the limits flag only real trouble; 1% then
tolerates no bad fit in CI's 30-40 simulations and up to 5 in a full 500, while a sampler in
real trouble is far above it (the centred funnel of the tests: 6 of 8 fits diverge, though its
ranks look uniform). gmm's former SBC prior, whose component sds reached 0.001, failed here
(see models/gmm.py).

Cost is compiling, so each worker process compiles a model once (nutpie, observed values in a
shared variable swapped per simulation) and reuses it; through :mod:`zoo.core.compile_cache`, whose
callbacks load from disk in a warm worker. Simulation i's seed comes from
(seed, i) alone, so results do not depend on --jobs, order or resumption. Each result is
stored as it finishes (one JSON file, written atomically); a rerun skips the stored ones.

Why not arviz-devs' ``simuk``: its loop draws all prior simulations in one batch (simulation i
depends on the number of simulations), calls ``pm.sample`` afresh per simulation, keeps
results in memory only and runs in one process; resumable, parallel and distributed runs need
the per-simulation unit of work this module has.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binom

from zoo.core import compile_cache, progress_lines
from zoo.core.arguments import positive, probability, quiet_option, seed_type
from zoo.core.diagnostics import r_hat_and_ess, scalar_draws, worst
from zoo.core.errors import UsageError
from zoo.core.model import ZooModel
from zoo.core.outputs import write_atomically
from zoo.core.registry import get_model
from zoo.core.sampling import (DEFAULT_SEED, DEFAULT_TARGET_ACCEPT, DEFAULT_TUNE, SamplerConfig,
                               nutpie_starts, quieted_pymc, sample_nutpie)
from zoo.core.workers import dask_client, execute

#: family-wise level of the uniformity tests of one model
ALPHA = 0.01
#: draws of the uniform null distribution of the ECDF statistic
NULL_SIMULATIONS = 4000
#: bars of the rank histogram
BINS = 20

#: the NUTS settings `zoo verify` runs (nutpie's defaults as SamplerConfig resolves them, and
#: sample_nutpie's mass-matrix adaptation), which SBC calibrates unless told otherwise
VERIFY = SamplerConfig().resolved("nutpie")
VERIFY_ADAPTATION: str = inspect.signature(sample_nutpie).parameters["adaptation"].default
ADAPTATIONS = ("diag", "low_rank")
#: a fit did not converge when, over the parameters SBC ranks, R-hat exceeds this, bulk ESS is
#: below ESS_MIN, or either is undefined (NaN); looser than zoo verify's 1.01 / 400, which
#: 2 chains x 500 draws miss by chance (see the module docstring)
R_HAT_MAX = 1.05
ESS_MIN = 100
#: the verdict fails when more than this share of fits diverged, or did not converge
MAX_BAD_SHARE = 0.01
#: simulations listed as the worst ones
WORST = 5


@dataclass(frozen=True)
class SbcConfig:
    """What decides the simulations' numbers; a stored run is resumed only with the same."""

    sims: int = 100
    seed: int = DEFAULT_SEED
    draws: int = 500
    tune: int = VERIFY.tune
    chains: int = 2
    thin_to: int = 100  # L: ranks run from 0 to L
    target_accept: float = VERIFY.target_accept
    adaptation: str = VERIFY_ADAPTATION  # nutpie's mass matrix: "diag" or "low_rank"

    def identity(self) -> dict[str, Any]:
        """Everything but the number of simulations, which a rerun may raise."""
        return {k: v for k, v in asdict(self).items() if k != "sims"}


# --- one simulation (runs in a worker) --------------------------------------------------------
@dataclass
class _Compiled:
    """One model compiled for every simulation of a worker: forward sampling and NUTS."""

    model: Any
    settings: dict[str, Any]
    sampler: Any  # nutpie CompiledModel whose observed values are shared variables
    data_names: dict[str, str]
    data_dtypes: dict[str, Any]


_COMPILED: dict[tuple, _Compiled] = {}


@quieted_pymc()
def simulate_and_fit(model: ZooModel, set_pairs: list[str], config: SbcConfig, index: int,
                     cores: int = 1) -> dict[str, Any]:
    """Simulation ``index``: simulate, fit, and each parameter's PIT; a JSON-ready record."""
    compiled = _compiled(model, tuple(set_pairs))
    plan = model.calibration()
    rng = simulation_rng(config.seed, index)
    truth, observed = plan.simulate(compiled.model, compiled.settings, rng)
    starts = plan.start(compiled.settings, observed)
    start = time.perf_counter()
    idata = _fit(compiled, observed, config, int(rng.integers(2**31)), cores, starts)
    seconds = time.perf_counter() - start
    posterior = idata.posterior
    pits, probabilities = {}, {}
    names = plan.parameters(compiled.settings) or [v.name for v in compiled.model.free_RVs]
    for name in names:
        pits.update(continuous_pits(name, np.asarray(posterior[name]), truth[name],
                                    config.thin_to, rng))
    for name, variable in plan.discrete.items():
        probs = np.asarray(posterior[variable]).mean(axis=(0, 1)).ravel()
        pits[name] = discrete_pit(probs, int(truth[name]), rng)
        probabilities[name] = probs.tolist()
    return {"index": index, "pit": pits, "probabilities": probabilities,
            "truth": {k: np.asarray(v).tolist() for k, v in truth.items()},
            "divergences": int(idata.sample_stats["diverging"].sum()),
            **convergence(idata, names), "seconds": seconds}


def convergence(idata, names: list[str]) -> dict[str, Any]:
    """R-hat max and bulk ESS min over every scalar of ``names``, and whether they pass
    R_HAT_MAX / ESS_MIN; an undefined (NaN) value, e.g. of a scalar no chain moved, is stored
    as None and fails."""
    r_hats, esss = r_hat_and_ess(scalar_draws(idata, names))
    r_hat, ess = worst(r_hats, max), worst(esss, min)
    r_hat, ess = (None if np.isnan(v) else v for v in (r_hat, ess))
    return {"r_hat_max": r_hat, "ess_bulk_min": ess,
            "converged": r_hat is not None and ess is not None
            and r_hat <= R_HAT_MAX and ess >= ESS_MIN}


def simulation_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of simulation ``index``: a function of (seed, index) only."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def _compiled(model: ZooModel, set_pairs: tuple[str, ...]) -> _Compiled:
    key = (type(model).__module__, type(model).__qualname__, model.name, set_pairs)
    if key not in _COMPILED:
        import pymc as pm
        import pytensor

        settings = model.parse_settings(list(set_pairs))
        sbc_model = model.calibration().pymc_model(settings)
        shared = {}
        for rv in sbc_model.observed_RVs:
            value = np.asarray(sbc_model.rvs_to_values[rv].data)
            shared[rv.name] = pytensor.shared(value, name=f"{rv.name}__sbc")
        fitted = pm.observe(sbc_model, shared)
        _COMPILED[key] = _Compiled(
            model=sbc_model,
            settings=settings,
            sampler=compile_cache.nutpie_model(fitted),
            data_names={name: var.name for name, var in shared.items()},
            data_dtypes={name: var.get_value().dtype for name, var in shared.items()},
        )
    return _COMPILED[key]


def _fit(compiled: _Compiled, observed: dict, config: SbcConfig, seed: int, cores: int,
         starts=None):
    import nutpie

    data = {compiled.data_names[name]: np.asarray(value, dtype=compiled.data_dtypes[name])
            for name, value in observed.items()}
    sampler = compiled.sampler.with_data(**data)
    if starts is not None:
        sampler = replace(sampler, initial_point_func=nutpie_starts(compiled.model, sampler, starts))
    return nutpie.sample(sampler, draws=config.draws, tune=max(config.tune, 1),
                         chains=config.chains, cores=cores, seed=seed, progress_bar=False,
                         target_accept=config.target_accept, adaptation=config.adaptation,
                         save_warmup=False)


def continuous_pits(name: str, draws: np.ndarray, truth, thin_to: int,
                    rng: np.random.Generator) -> dict[str, float]:
    """Each scalar's randomised rank PIT among ``thin_to`` draws evenly spaced in every chain."""
    chains, length = draws.shape[:2]
    flat = draws.reshape(chains, length, -1)
    per_chain = max(1, thin_to // chains)
    kept = flat[:, np.linspace(0, length - 1, per_chain).round().astype(int), :]
    kept = kept.reshape(chains * per_chain, -1)
    truth = np.asarray(truth, dtype=float).ravel()
    labels = [name] if flat.shape[2] == 1 else [f"{name}[{i}]" for i in range(flat.shape[2])]
    ranks = (kept < truth).sum(axis=0) + rng.uniform(size=truth.size) * ((kept == truth).sum(axis=0) + 1)
    return {label: float(r / (len(kept) + 1)) for label, r in zip(labels, ranks)}


def discrete_pit(probabilities: np.ndarray, category: int, rng: np.random.Generator) -> float:
    """Randomised PIT of a discrete truth: uniform on [F(m-1), F(m)] under the posterior."""
    below = float(np.sum(probabilities[:category]))
    return below + float(rng.uniform()) * float(probabilities[category])


# --- uniformity test ----------------------------------------------------------------------
def _grid(n: int) -> np.ndarray:
    points = min(n, 100)
    return np.arange(1, points) / points


def ecdf_statistic(values: np.ndarray) -> np.ndarray:
    """Smallest two-sided binomial tail probability of the ECDF over the grid (per row)."""
    values = np.sort(np.atleast_2d(values), axis=-1)
    n = values.shape[-1]
    grid = _grid(n)
    counts = np.stack([np.searchsorted(row, grid, side="right") for row in values])
    tails = np.minimum(binom.cdf(counts, n, grid), binom.sf(counts - 1, n, grid))
    return np.minimum(1.0, 2 * tails.min(axis=-1))


@lru_cache(maxsize=64)
def _null_statistics(n: int) -> np.ndarray:
    return ecdf_statistic(np.random.default_rng(0).uniform(size=(NULL_SIMULATIONS, n)))


def uniformity_p_value(values: np.ndarray) -> float:
    """P(statistic <= observed) for uniform values: small when the ECDF leaves the band."""
    null = _null_statistics(len(values))
    return float((1 + np.sum(null <= ecdf_statistic(values)[0])) / (1 + null.size))


def ecdf_band(n: int, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid and simultaneous (1 - alpha) band of the ECDF of n uniform values."""
    level = np.quantile(_null_statistics(n), alpha)
    grid = _grid(n)
    return grid, binom.ppf(level / 2, n, grid) / n, binom.ppf(1 - level / 2, n, grid) / n


# --- storage and running --------------------------------------------------------------------
def simulation_path(folder: Path, index: int) -> Path:
    """Where a store in ``folder`` keeps simulation ``index``."""
    return Path(folder) / "sims" / f"sim-{index:05d}.json"


class SimulationStore:
    """One JSON file per finished simulation under ``folder/sims``; refuses a foreign run."""

    def __init__(self, folder: Path, identity: dict[str, Any]):
        self.folder = Path(folder)
        (self.folder / "sims").mkdir(parents=True, exist_ok=True)
        stamp = self.folder / "run.json"
        if stamp.exists() and json.loads(stamp.read_text()) != identity:
            raise UsageError(f"{self.folder} holds SBC results of another model, setting or "
                             "sampler configuration; choose another --out or delete it")
        write_atomically(stamp, json.dumps(identity, indent=1))

    def path(self, index: int) -> Path:
        return simulation_path(self.folder, index)

    def has(self, index: int) -> bool:
        return self.path(index).exists()

    def save(self, record: dict[str, Any]) -> None:
        write_atomically(self.path(record["index"]), json.dumps(record))

    def load(self, count: int) -> list[dict[str, Any]]:
        return [json.loads(self.path(i).read_text()) for i in range(count)]


def run_sbc(model: ZooModel, config: SbcConfig, out: Path, *, set_pairs: list[str] | None = None,
            jobs: int = 1, scheduler: str | None = None) -> dict[str, Any]:
    """Run the simulations not yet stored in ``out``, then summarise and plot all of them."""
    set_pairs = list(set_pairs or [])
    model.parse_settings(set_pairs)  # bad settings fail here, before any work
    if config.adaptation not in ADAPTATIONS:
        raise UsageError(f"adaptation {config.adaptation!r}: choose one of {', '.join(ADAPTATIONS)}")
    identity = {"model": model.name, "settings": model.setting_texts(set_pairs),
                "nuts_sampler": "nutpie", **config.identity()}
    if scheduler:  # an unreachable cluster is refused before anything is written
        dask_client(scheduler).close()
    store = SimulationStore(out, identity)
    pending = [i for i in range(config.sims) if not store.has(i)]
    start = time.perf_counter()
    with progress_lines.about(model.name):
        for record in progress_lines.counted(
                _execute(model, set_pairs, config, pending, jobs, scheduler), "simulation",
                len(pending), label=lambda record: f"#{record['index']}"):
            store.save(record)
    wall = time.perf_counter() - start
    summary = summarise(model, store.load(config.sims), config)
    summary.update(identity=identity, computed=len(pending), jobs=jobs, scheduler=scheduler,
                   wall_seconds=wall)
    write_atomically(Path(out) / "summary.json", json.dumps(summary, indent=1))
    plot_all(summary, Path(out))
    return summary


def _execute(model, set_pairs, config, indices, jobs, scheduler) -> Iterator[dict[str, Any]]:
    """Records as they finish (:func:`zoo.core.workers.execute`); one process runs the chains of a
    fit in parallel, several processes one chain each."""
    cores = config.chains if jobs == 1 and not scheduler else 1
    for _, record in execute(_simulation, indices, jobs, scheduler, model, set_pairs, config,
                             cores):
        yield record


def _simulation(index: int, model, set_pairs, config, cores) -> dict[str, Any]:
    return simulate_and_fit(model, set_pairs, config, index, cores)


# --- summary, plots, text ----------------------------------------------------------------------
def summarise(model: ZooModel, records: list[dict[str, Any]], config: SbcConfig) -> dict[str, Any]:
    """Per parameter: rank histogram, uniformity p-value, flagged; the verdict and the costs."""
    names = list(records[0]["pit"])
    threshold = ALPHA / len(names)
    parameters = {}
    for name in names:
        pits = np.array([r["pit"][name] for r in records])
        p_value = uniformity_p_value(pits)
        parameters[name] = {
            "p_value": p_value,
            "flagged": p_value < threshold,
            "histogram": np.histogram(pits, bins=BINS, range=(0, 1))[0].tolist(),
            "pit": pits.tolist(),
        }
    fit_seconds = sum(r["seconds"] for r in records)
    health = fit_health(records)
    calibrated = not any(p["flagged"] for p in parameters.values())
    return {
        "model": model.name,
        "config": asdict(config),
        "simulations": len(records),
        "alpha": ALPHA,
        "threshold": threshold,
        "parameters": parameters,
        "binary_calibration": {name: reliability(records, name)
                               for name in model.calibration().discrete},
        "divergences": sum(r["divergences"] for r in records),
        **health,
        "fit_seconds": fit_seconds,
        "fits_per_second": len(records) / fit_seconds if fit_seconds else None,
        "notes": model.calibration().notes(),
        "calibrated": calibrated,
        "passed": calibrated and not health["diverged"]["too_many"]
        and not health["not_converged"]["too_many"],
    }


def fit_health(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The fits that diverged (any divergent transition) and that did not converge: count,
    share, whether more than MAX_BAD_SHARE, and the worst simulations."""

    def badness(r):  # how far past the convergence limits; undefined is worst
        if r["r_hat_max"] is None or r["ess_bulk_min"] is None:
            return np.inf
        return max((r["r_hat_max"] - 1) / (R_HAT_MAX - 1), ESS_MIN / max(r["ess_bulk_min"], 1e-9))

    def group(bad: list[dict], key, fields: tuple[str, ...]) -> dict[str, Any]:
        share = len(bad) / len(records)
        return {"count": len(bad), "share": share, "too_many": share > MAX_BAD_SHARE,
                "worst": [{"index": r["index"], **{f: r[f] for f in fields}}
                          for r in sorted(bad, key=key, reverse=True)[:WORST]]}

    return {
        "fit_rule": {"r_hat_max": R_HAT_MAX, "ess_bulk_min": ESS_MIN,
                     "max_bad_share": MAX_BAD_SHARE},
        "diverged": group([r for r in records if r["divergences"]], lambda r: r["divergences"],
                          ("divergences",)),
        "not_converged": group([r for r in records if not r["converged"]], badness,
                               ("r_hat_max", "ess_bulk_min")),
    }


def reliability(records: list[dict[str, Any]], name: str, bins: int = 5) -> list[dict[str, float]]:
    """Binary calibration: simulations binned by the posterior probability of each category,
    against how often that category was the truth (should match within binomial noise)."""
    predicted, happened = [], []
    for record in records:
        probs = record["probabilities"][name]
        predicted += probs
        happened += [int(record["truth"][name]) == k for k in range(len(probs))]
    predicted, happened = np.array(predicted), np.array(happened, dtype=float)
    which = np.minimum((predicted * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        chosen = which == b
        if chosen.any():
            count = int(chosen.sum())
            mean_p = float(predicted[chosen].mean())
            rows.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "count": count,
                         "mean_predicted": mean_p, "observed": float(happened[chosen].mean()),
                         "se": float(np.sqrt(mean_p * (1 - mean_p) / count))})
    return rows


def plot_all(summary: dict[str, Any], folder: Path) -> list[Path]:
    """One PNG per parameter: rank histogram and ECDF difference with the simultaneous band.
    Drawn on matplotlib Figures of their own, not pyplot's, so that the caller's backend (a
    notebook's) is left alone."""
    from matplotlib.figure import Figure

    written = []
    for name, parameter in summary["parameters"].items():
        figure = Figure(figsize=(10, 3.2))
        left, right = figure.subplots(1, 2)
        _histogram(left, np.array(parameter["pit"]))
        _ecdf_difference(right, np.array(parameter["pit"]), summary["threshold"])
        verdict = "FLAGGED" if parameter["flagged"] else "ok"
        figure.suptitle(f"{summary['model']}: {name}, {summary['simulations']} simulations, "
                        f"p = {parameter['p_value']:.3g} ({verdict})")
        figure.tight_layout()
        path = folder / f"sbc-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        figure.savefig(path, dpi=80)
        written.append(path)
    for name, rows in summary["binary_calibration"].items():
        written.append(_plot_reliability(name, rows, summary, folder))
    return written


def _plot_reliability(name: str, rows: list[dict], summary: dict, folder: Path) -> Path:
    """Predicted probability against observed frequency, with 2 binomial standard errors."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 4))
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="0.5", linewidth=0.5)
    axis.errorbar([r["mean_predicted"] for r in rows], [r["observed"] for r in rows],
                  yerr=[2 * r["se"] for r in rows], fmt="o", capsize=3)
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"posterior p({name})", ylabel="observed frequency",
             title=f"{summary['model']}: binary calibration of {name}")
    figure.tight_layout()
    path = folder / f"sbc-{name}-reliability.png"
    figure.savefig(path, dpi=80)
    return path


def _histogram(axis, pits: np.ndarray) -> None:
    n = len(pits)
    counts = np.histogram(pits, bins=BINS, range=(0, 1))[0]
    low, high = binom.ppf([0.005, 0.995], n, 1 / BINS)
    axis.axhspan(low, high, color="0.85")  # 99% of each bar's binomial variation
    axis.bar(np.arange(BINS) / BINS, counts, width=1 / BINS, align="edge", edgecolor="white")
    axis.set(xlabel="normalised rank", ylabel="simulations", title="rank histogram")


def _ecdf_difference(axis, pits: np.ndarray, alpha: float) -> None:
    grid, lower, upper = ecdf_band(len(pits), alpha)
    ecdf = np.searchsorted(np.sort(pits), grid, side="right") / len(pits)
    axis.fill_between(grid, lower - grid, upper - grid, color="0.85", step="mid")
    axis.plot(grid, ecdf - grid, drawstyle="steps-mid")
    axis.axhline(0, color="0.5", linewidth=0.5)
    axis.set(xlabel="normalised rank", ylabel="ECDF - uniform",
             title=f"ECDF difference ({100 * (1 - alpha):.4g}% simultaneous band)")


def console(summary: dict[str, Any]) -> str:
    """What ``zoo sbc`` prints."""
    c = summary["config"]
    lines = [
        f"{summary['model']}: SBC, {summary['simulations']} simulations ({summary['computed']} "
        f"run now, {summary['wall_seconds']:.1f} s wall), seed {c['seed']}",
        f"each fit: nutpie, {c['chains']} chains x {c['draws']} draws (tune {c['tune']}), target "
        f"acceptance {c['target_accept']}, {c['adaptation']} mass matrix; ranks among "
        f"{c['thin_to']} thinned draws",
        f"uniformity: ECDF simultaneous-band test, flagged when p < {summary['threshold']:.2g} "
        f"(alpha {summary['alpha']} / {len(summary['parameters'])} parameters)",
    ]
    width = max(map(len, summary["parameters"]))
    for name, parameter in summary["parameters"].items():
        lines.append(f"  {name:<{width}}  p = {parameter['p_value']:.3f}  "
                     f"{'FLAGGED' if parameter['flagged'] else 'ok'}")
    for name, rows in summary["binary_calibration"].items():
        lines.append(f"binary calibration of {name}: predicted vs observed frequency")
        lines += [f"  p in {r['bin']}: {r['count']:>4} cases, predicted {r['mean_predicted']:.3f}, "
                  f"observed {r['observed']:.3f} (se {r['se']:.3f})" for r in rows]
    lines += [f"note: {n}" for n in summary["notes"]]
    lines += _health_lines(summary)
    rate = summary["fits_per_second"]
    lines.append(f"fits {summary['fit_seconds']:.1f} s" + (f" ({rate:.1f} per second)" if rate else ""))
    reasons = [f"{sum(not p['flagged'] for p in summary['parameters'].values())}/"
               f"{len(summary['parameters'])} parameters calibrated"]
    limit = f"more than {summary['fit_rule']['max_bad_share']:.0%} of fits"
    reasons += [f"{summary[key]['share']:.1%} of fits {what} ({limit})"
                for key, what in (("diverged", "diverged"), ("not_converged", "did not converge"))
                if summary[key]["too_many"]]
    return "\n".join([*lines, ("PASS" if summary["passed"] else "FAIL") + ": " + "; ".join(reasons)])


def _health_lines(summary: dict[str, Any]) -> list[str]:
    rule, n = summary["fit_rule"], summary["simulations"]

    def number(value, form):
        return "undefined" if value is None else format(value, form)

    diverged, unconverged = summary["diverged"], summary["not_converged"]
    worst_d = ", ".join(f"sim {w['index']} ({w['divergences']})" for w in diverged["worst"])
    worst_c = ", ".join(f"sim {w['index']} (R-hat {number(w['r_hat_max'], '.3f')}, ESS "
                        f"{number(w['ess_bulk_min'], '.0f')})" for w in unconverged["worst"])
    return [
        f"diverged: {diverged['count']}/{n} fits ({diverged['share']:.1%}), "
        f"{summary['divergences']} divergences" + (f"; worst {worst_d}" if worst_d else "")
        + (" - TOO MANY" if diverged["too_many"] else ""),
        f"did not converge (R-hat > {rule['r_hat_max']} or bulk ESS < {rule['ess_bulk_min']} "
        f"over the ranked parameters): {unconverged['count']}/{n} fits "
        f"({unconverged['share']:.1%})" + (f"; worst {worst_c}" if worst_c else "")
        + (" - TOO MANY" if unconverged["too_many"] else ""),
        f"a model fails when more than {rule['max_bad_share']:.0%} of fits diverged or did not "
        "converge",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo sbc`` options."""
    parser.add_argument("model")
    parser.add_argument("--sims", type=positive, default=100, help="simulations (default 100)")
    parser.add_argument("--jobs", type=positive, default=1, help="worker processes (default 1)")
    parser.add_argument("--seed", type=seed_type, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--draws", type=positive, default=500, help="draws per chain per fit (default 500)")
    parser.add_argument("--tune", type=positive, default=None,
                        help=f"tuning steps per fit (default {DEFAULT_TUNE['nutpie']}, as verify)")
    parser.add_argument("--chains", type=positive, default=2, help="chains per fit (default 2)")
    parser.add_argument("--target-accept", type=probability, default=None,
                        help=f"NUTS's target acceptance (default {DEFAULT_TARGET_ACCEPT['nutpie']}, as verify)")
    parser.add_argument("--adaptation", choices=["diag", "low_rank"], default=None,
                        help="nutpie's mass matrix (default low_rank, as verify)")
    parser.add_argument("--set", dest="set_pairs", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting; repeat for several")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://HOST:PORT)")
    parser.add_argument("--out", type=Path, help="output folder (default reports/sbc-MODEL); a rerun resumes")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")
    quiet_option(parser)


def sbc_command(args: argparse.Namespace) -> int:
    """``zoo sbc``: run, print (or one JSON document), exit 0 when no parameter is flagged and
    few enough fits diverged or did not converge."""
    model = get_model(args.model)
    model.parse_settings(args.set_pairs, user_data=False)  # SBC fits simulated example data
    given = {"tune": args.tune, "target_accept": args.target_accept, "adaptation": args.adaptation}
    config = SbcConfig(sims=args.sims, seed=args.seed, draws=args.draws, chains=args.chains,
                       **{k: v for k, v in given.items() if v is not None})
    out = args.out
    try:
        summary = run_sbc(model, config, out, set_pairs=args.set_pairs, jobs=args.jobs,
                          scheduler=args.scheduler)
    except KeyboardInterrupt:
        print(f"zoo: interrupted; finished simulations are kept in {out}/sims, a rerun resumes",
              file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(console(summary))
        print(f"wrote {out}/summary.json and figures {out}/sbc-*.png")
    return 0 if summary["passed"] else 1
