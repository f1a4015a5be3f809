"""The inference methods a PyMC user reaches for, each run on a model's PyMC model alone.

Every runner returns an :class:`Outcome`: draws of the model's variables (posterior and
deterministics) or a point, the seconds spent compiling and running, and the method's own
diagnostics. A method that cannot run (a missing package, an improper prior for SMC, an
exception) returns an Outcome with ``error`` set: one line, never a traceback.
"""

from __future__ import annotations

import importlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from zoo.core.pipeline import sampling_seconds
from zoo.core.results import Fit
from zoo.core.sampling import SamplerConfig, quieted_pymc, sample_nuts, sample_smc, smc_refusal

#: ADVI's optimisation steps (PyMC's default is 10,000; more, so that a bias left is the
#: approximation's and not an unfinished optimisation: the ELBO's last change is reported)
ADVI_ITERATIONS = 20_000
#: draws taken from every approximation (independent draws: MCSE = sd / sqrt(draws))
APPROXIMATION_DRAWS = 4000
#: the install line for each optional group of packages
JAX_EXTRA = "pip install 'bayes-zoo[jax]'"
#: pymc-extras cannot be an extra: its latest release (0.15.1) pins pymc<6.4, which the zoo's
#: pymc>=6.4 excludes, so pip cannot resolve it; without its dependencies it works on 6.4
EXTRAS_INSTALL = "pip install --no-deps 'pymc-extras==0.15.1'"


@dataclass
class Outcome:
    """What one method gave on one model."""

    idata: xr.DataTree | None = None  # draws (posterior group), or None
    point: dict[str, np.ndarray] | None = None  # a point estimate by variable name (MAP)
    compile_seconds: float | None = None  # None: the method does not separate the two
    run_seconds: float | None = None
    total_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)  # the method's own diagnostics
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # why it did not run (one line)
    missing: bool = False  # an optional package is not installed


@dataclass(frozen=True)
class Target:
    """What a method runs on: the zoo model's PyMC model (built afresh for each method) and
    where the zoo's own NUTS starts its chains (``ZooModel.nuts_options``)."""

    model: pm.Model
    nuts_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """One inference method: how to run it and what it needs."""

    name: str
    kind: str  # "sampler", "approximation" or "optimum"
    label: str
    run: Callable[[Target, SamplerConfig], Outcome]
    needs: tuple[str, ...] = ()  # modules that must import
    install: str = ""  # the line that installs them


# --- samplers --------------------------------------------------------------------------------

def run_nuts(nuts_sampler: str):
    """NUTS as ``zoo verify`` runs it (zoo.core.sampling): nutpie with a low-rank mass matrix, or
    PyMC's, each chain started where the model says (gmm: dispersed EM starts)."""

    def run(target: Target, config: SamplerConfig) -> Outcome:
        return _timed_draws(lambda: sample_nuts(target.model, config, nuts_sampler=nuts_sampler,
                                                **target.nuts_options))

    return run


def run_jax_nuts(nuts_sampler: str):
    """NumPyro's or BlackJAX's NUTS through ``pm.sample(nuts_sampler=...)``, with the tuning
    and target acceptance the zoo gives PyMC's NUTS and PyMC's jittered start, as a user gets
    them. Its sampling time includes JAX's compilation, which happens at the first call."""

    def run(target: Target, config: SamplerConfig) -> Outcome:
        resolved = config.resolved("pymc")

        def sample():
            with target.model:
                return pm.sample(draws=resolved.draws, tune=resolved.tune, chains=resolved.chains,
                                 random_seed=resolved.seed, nuts_sampler=nuts_sampler,
                                 target_accept=resolved.target_accept, progressbar=False,
                                 compute_convergence_checks=False)

        outcome = _timed_draws(sample)
        outcome.notes.append("run time includes JAX's just-in-time compilation")
        return outcome

    return run


def run_smc(target: Target, config: SamplerConfig) -> Outcome:
    """PyMC's SMC; it starts from prior draws, so a model with an improper prior cannot use it."""
    if why := smc_refusal(target.model):
        return Outcome(error=why)
    return _timed_draws(lambda: sample_smc(target.model, config))


def _timed_draws(sample: Callable[[], xr.DataTree]) -> Outcome:
    """Run a sampler; its reported sampling time is the run, the rest of its wall time compiling."""
    start = time.perf_counter()
    idata = sample()
    total = time.perf_counter() - start
    run = sampling_seconds(Fit(idata))["sampling"]
    return Outcome(idata=idata, compile_seconds=total - run, run_seconds=run, total_seconds=total)


# --- approximations ---------------------------------------------------------------------------

def run_advi(method: str):
    """ADVI (mean-field or full-rank) by ``pm.fit`` with PyMC's default optimiser; compiling is
    the time to the first step, running the optimisation and the draws. ``info`` gives the ELBO's relative change over the last tenth
    of the steps: a large one means the optimisation had not settled."""

    def run(target: Target, config: SamplerConfig) -> Outcome:
        model = target.model
        first_step: list[float] = []

        def mark(approx, losses, i):
            if not first_step:
                first_step.append(time.perf_counter())

        start = time.perf_counter()
        with model:
            approx = pm.fit(n=ADVI_ITERATIONS, method=method, random_seed=config.seed,
                            progressbar=False, callbacks=[mark])
        idata = _approx_draws(approx, model, config.seed)
        end = time.perf_counter()
        tenth = max(len(approx.hist) // 10, 1)
        last, before = np.mean(approx.hist[-tenth:]), np.mean(approx.hist[-2 * tenth:-tenth])
        return Outcome(
            idata=idata, compile_seconds=first_step[0] - start,
            run_seconds=end - first_step[0], total_seconds=end - start,
            info={"iterations": len(approx.hist), "final_loss": float(last),
                  "loss_change_last_tenth": float((before - last) / abs(last))},
        )

    return run


def _approx_draws(approx, model: pm.Model, seed: int) -> xr.DataTree:
    with model:
        return with_deterministics(approx.sample(APPROXIMATION_DRAWS, random_seed=seed), model)


def run_pathfinder(target: Target, config: SamplerConfig) -> Outcome:
    """Multi-path Pathfinder (pymc-extras) with its defaults (4 paths, PSIS), in this process:
    its worker processes cost ~30 s of start-up on a one-parameter model."""
    import pymc_extras as pmx

    start = time.perf_counter()
    model = target.model
    idata = pmx.fit(method="pathfinder", model=model, num_draws=APPROXIMATION_DRAWS,
                    random_seed=config.seed, progressbar=False, parallel=False)
    total = time.perf_counter() - start
    stats = idata["pathfinder"]
    info = {name: _plain(stats[name].values) for name in ("pareto_k", "all_paths_failed")
            if name in stats}
    return Outcome(idata=with_deterministics(idata, model),
                   compile_seconds=float(stats["compile_time"]),
                   run_seconds=float(stats["compute_time"]), total_seconds=total, info=info,
                   notes=["PSIS-resampled draws: repeats make the MCSE shown optimistic"])


def run_laplace(target: Target, config: SamplerConfig) -> Outcome:
    """The Laplace approximation (pymc-extras): a normal at the mode on the unconstrained
    space, mapped back through the transforms."""
    import pymc_extras as pmx

    start = time.perf_counter()
    model = target.model
    idata = pmx.fit_laplace(model=model, draws=APPROXIMATION_DRAWS, random_seed=config.seed,
                            progressbar=False)
    total = time.perf_counter() - start
    info = {}
    if "optimizer_result" in idata.children:
        result = idata["optimizer_result"]
        info = {name: _plain(result[name].values) for name in ("success",) if name in result}
    return Outcome(idata=with_deterministics(idata, model), total_seconds=total, info=info)


def run_map(target: Target, config: SamplerConfig) -> Outcome:
    """``pm.find_MAP``: the posterior mode, a point (its deterministics included)."""
    start = time.perf_counter()
    with target.model:
        point = pm.find_MAP(progressbar=False, seed=config.seed, include_transformed=False)
    total = time.perf_counter() - start
    return Outcome(point={name: np.asarray(value) for name, value in point.items()},
                   total_seconds=total, notes=["a mode, not a mean; no sd"])


def with_deterministics(idata: xr.DataTree, model: pm.Model) -> xr.DataTree:
    """``idata`` with every deterministic of ``model`` its posterior lacks, computed from the
    draws (approximations may return the free variables only)."""
    posterior = idata["posterior"].to_dataset()
    lacking = [v.name for v in model.deterministics if v.name not in posterior]
    if lacking:
        computed = pm.compute_deterministics(posterior, var_names=lacking, model=model,
                                             progressbar=False)
        idata["posterior"] = xr.merge([posterior, computed])
    return idata


def _plain(values) -> Any:
    array = np.asarray(values)
    return array.item() if array.size == 1 else array.tolist()


# --- the catalogue -------------------------------------------------------------------------------

METHODS = {m.name: m for m in [
    Method("nutpie", "sampler", "NUTS (nutpie, the zoo's default)", run_nuts("nutpie")),
    Method("pymc", "sampler", "NUTS (PyMC's own)", run_nuts("pymc")),
    Method("numpyro", "sampler", "NUTS (NumPyro, via PyMC)", run_jax_nuts("numpyro"),
           ("jax", "numpyro"), JAX_EXTRA),
    Method("blackjax", "sampler", "NUTS (BlackJAX, via PyMC)", run_jax_nuts("blackjax"),
           ("jax", "blackjax"), JAX_EXTRA),
    Method("smc", "sampler", "SMC (PyMC)", run_smc),
    Method("advi", "approximation", "ADVI mean-field (pm.fit)", run_advi("advi")),
    Method("fullrank_advi", "approximation", "ADVI full-rank (pm.fit)", run_advi("fullrank_advi")),
    Method("pathfinder", "approximation", "Pathfinder (pymc-extras)", run_pathfinder,
           ("pymc_extras",), EXTRAS_INSTALL),
    Method("laplace", "approximation", "Laplace (pymc-extras)", run_laplace,
           ("pymc_extras",), EXTRAS_INSTALL),
    Method("map", "optimum", "MAP (pm.find_MAP)", run_map),
]}

#: what a failure's message says, and the one line that explains it better
KNOWN_FAILURES = {
    "unexpected keyword argument 'progress_bar'":
        "blackjax >= 1.6 breaks PyMC 6.4's nuts_sampler='blackjax': pip install 'blackjax<1.6'",
}


def missing_package(method: Method) -> str | None:
    """The first module ``method`` needs that does not import, or None."""
    for module in method.needs:
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None


def run_method(method: Method, target: Target, config: SamplerConfig) -> Outcome:
    """Run ``method``; whatever goes wrong becomes a one-line ``error``, not a traceback."""
    missing = missing_package(method)
    if missing:
        return Outcome(error=f"{missing} is not installed: {method.install}", missing=True)
    start = time.perf_counter()
    try:
        with quieted_pymc("pmx"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return method.run(target, replace(config, progressbar=False))
    except KeyboardInterrupt:
        raise
    except Exception as err:  # the table shows why a method failed; nothing else may stop it
        message = " ".join(str(err).split()) or "(no message)"
        for symptom, explanation in KNOWN_FAILURES.items():
            if symptom in message:
                message = explanation
        return Outcome(error=f"{type(err).__name__}: {message[:300]}",
                       total_seconds=time.perf_counter() - start)


def ordered_methods(summary: dict[str, Any]) -> list[str]:
    """The catalogue's methods first, in its order, then the classical answers found."""
    seen = {m for entry in summary["models"].values()
            for group in ("methods", "alternatives") for m in entry[group]}
    return [m for m in METHODS if m in seen] + sorted(seen - set(METHODS))
