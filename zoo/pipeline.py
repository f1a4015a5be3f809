"""One run of one model: data -> model -> sampling -> reference -> comparison.

These are the calls a notebook user makes; the CLI is a thin layer over :func:`run`.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import arviz as az
import pandas as pd

from zoo.compare import compare, z_bound
from zoo.diagnostics import Diagnostics, diagnose
from zoo.model import Fit, Reference, ZooModel
from zoo.sampling import SamplerConfig

PACKAGES = ["pymc", "pytensor", "nutpie", "arviz", "arviz-base", "arviz-stats", "numpy", "scipy",
            "pandas", "xarray"]


@dataclass
class Result:
    """Everything a run found, in plain objects: tables are pandas, the posterior a DataTree."""

    model: ZooModel
    data: pd.DataFrame
    settings: dict[str, Any]
    config: SamplerConfig
    data_source: str
    reference: Reference
    fit: Fit
    checks: pd.DataFrame
    summary: pd.DataFrame
    diagnostics: Diagnostics
    set_pairs: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def z_bound(self) -> float:
        return z_bound(len(self.checks))

    @property
    def passed(self) -> bool:
        return bool(self.checks["passed"].all()) and self.diagnostics.converged

    def config_dict(self) -> dict[str, Any]:
        return {
            "data": self.data_source,
            "settings": self.model.setting_texts(self.set_pairs),
            **self.config.as_dict(),
            "nuts_sampler": self.config.nuts_sampler or self.model.nuts_sampler,
            "versions": versions(),
        }

    def alternatives(self) -> dict[str, dict[str, float]]:
        return {self.reference.method: self.reference.values, **self.reference.alternatives,
                **self.fit.alternatives}

    def notes(self) -> list[str]:
        """The reference's, the fit's and the comparison's notes (e.g. a weaker reference, a z
        converted from a t)."""
        return [*self.reference.notes, *self.fit.notes, *self.checks.attrs.get("notes", [])]

    def as_json(self) -> dict[str, Any]:
        """Everything a run found; each check also gives its ``reference_error``, so that
        z = (estimate - reference) / sqrt(mcse^2 + reference_error^2) can be recomputed."""
        checks = [{**row, "reference_error": self.reference.errors.get(row["name"], 0.0)}
                  for row in self.checks.to_dict(orient="records")]
        return {
            "model": self.model.name,
            "config": self.config_dict(),
            "checks": checks,
            "alternatives": self.alternatives(),
            "diagnostics": self.diagnostics.as_dict(),
            "notes": self.notes(),
            "seconds": self.seconds,
            "passed": self.passed,
        }


def run(
    model: ZooModel,
    data_path: str | Path | None = None,
    set_pairs: list[str] | None = None,
    config: SamplerConfig = SamplerConfig(),
) -> Result:
    """Fit ``model`` on the data and settings given, and compare it with its reference."""
    settings = model.parse_settings(set_pairs, user_data=data_path is not None)
    data = model.load(data_path, settings)
    config = config.resolved(model.nuts_sampler)
    start = time.perf_counter()
    reference = model.reference(data, settings)
    after_reference = time.perf_counter()
    fit = model.fit(data, settings, config)
    after_fit = time.perf_counter()
    checks = compare(fit, reference)
    var_names = model.var_names
    return Result(
        model=model,
        data=data,
        settings=settings,
        config=config,
        data_source=str(data_path) if data_path else "seed example",
        reference=reference,
        fit=fit,
        checks=checks,
        summary=az.summary(fit.idata, var_names=var_names, round_to="none"),
        diagnostics=diagnose(fit.idata, var_names),
        set_pairs=list(set_pairs or []),
        seconds={"reference": after_reference - start, "fit": after_fit - after_reference,
                 **sampling_seconds(fit)},
    )


def run_all(models: list[ZooModel], data_path: str | Path | None = None,
            set_pairs: list[str] | None = None, config: SamplerConfig = SamplerConfig(),
            jobs: int = 1) -> Iterator[Result]:
    """:func:`run` for each model, yielded in the order given.

    With ``jobs`` > 1 the models run in that many worker processes, started fresh ("spawn":
    forking a process in which nutpie's threads already ran can hang). Compiling, single-
    threaded, is most of a run's time, so two workers nearly halve ``verify --all`` on two
    cores. Each run is seeded on its own: the numbers do not depend on ``jobs``. Workers show
    no progress bars.
    """
    if jobs <= 1 or len(models) <= 1:
        for model in models:
            yield run(model, data_path, set_pairs, config)
        return
    quiet = replace(config, progressbar=False)
    pool = ProcessPoolExecutor(min(jobs, len(models)), mp_context=get_context("spawn"))
    try:
        futures = [pool.submit(run, model, data_path, set_pairs, quiet) for model in models]
        for future in futures:
            yield future.result()
    except BaseException:  # an error or Ctrl-C: stop the other workers now
        workers = list((pool._processes or {}).values())  # Python 3.14: terminate_workers()
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        raise
    pool.shutdown()


def sampling_seconds(fit: Fit) -> dict[str, float]:
    """Seconds the samplers report spending on draws, for the main posterior and for every
    fit of the run; the rest of the fit's time is mostly compiling (``zoo bench`` splits them)."""

    def reported(idata) -> float:
        if "sampling_time" in idata.posterior.attrs:
            return float(idata.posterior.attrs["sampling_time"])
        stats = idata.children.get("sample_stats")
        return float(stats.attrs.get("_t_sampling", 0.0)) if stats is not None else 0.0

    main = reported(fit.idata)
    return {"sampling": main, "sampling_total": main + sum(map(reported, fit.extra.values()))}


def versions() -> dict[str, str]:
    """Versions of Python and of every package that can change the numbers."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        found[package] = version(package)
    return found

