"""One run of one model: data -> model -> sampling -> reference -> comparison.

These are the calls a notebook user makes; the CLI is a thin layer over :func:`run`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from zoo.core import deferred, progress_lines, reference_cache, stopwatch
from zoo.core.compare import compare
from zoo.core.deferred import az, pm
from zoo.core.density_check import density_check
from zoo.core.diagnostics import diagnose
from zoo.core.errors import UsageError
from zoo.core.model import ZooModel
from zoo.core.results import BUNDLED_EXAMPLE, Fit, Result
from zoo.core.sampling import SamplerConfig, quieted_pymc, sampling_time, smc_refusal
from zoo.core.workers import spawned_pool

def run(
    model: ZooModel,
    data_path: str | Path | None = None,
    set_pairs: list[str] | None = None,
    config: SamplerConfig = SamplerConfig(),
) -> Result:
    """Fit ``model`` on the data and settings given, and compare it with its reference.

    Bad settings or data are refused before ArviZ, PyMC and PyTensor, seconds to import, are
    loaded. ArviZ comes first, from here rather than from deep inside the fit (nutpie imports
    it): without jax installed, arviz_base's lazy import of jax inspects every frame of the
    call stack against every loaded module, 0.2 s from here, 0.8 s from inside the fit."""
    settings = model.parse_settings(set_pairs, user_data=data_path is not None)
    data = model.load(data_path, settings)
    config = config.resolved(draws=model.draws)
    startup = stopwatch.startup_seconds()
    stopwatch.collected()  # phases timed before this run are not its own
    begin = time.perf_counter()
    with stopwatch.phase("imports"):
        deferred.load(az, pm)
    with progress_lines.about(model.name), quieted_pymc():
        with stopwatch.phase("building"):
            built = model.build(data, settings)
        if config.sampler == "smc" and (why := smc_refusal(built)):
            raise UsageError(f"{model.name}: {why}")
        start = time.perf_counter()
        density = density_check(model, data, settings, built)
        after_density = time.perf_counter()
        reference, source = reference_cache.reference(model, data, settings)
        after_reference = time.perf_counter()
        fit = model.fit(built, data, settings, config, reference)
        after_fit = time.perf_counter()
        checks = compare(fit, reference)
        var_names = model.var_names
        summary = az.summary(fit.idata, var_names=var_names, round_to="none")
        diagnostics = diagnose(fit.idata, var_names)
    return Result(
        model=model,
        data=data,
        settings=settings,
        config=config,
        data_source=str(data_path) if data_path else BUNDLED_EXAMPLE,
        reference=reference,
        fit=fit,
        checks=checks,
        summary=summary,
        diagnostics=diagnostics,
        density_check=density,
        set_pairs=list(set_pairs or []),
        reference_source=source.describe(),
        seconds=run_seconds(fit, startup, {"density_check": after_density - start,
                                           "reference": after_reference - after_density,
                                           "fit": after_fit - after_reference,
                                           "diagnostics": time.perf_counter() - after_fit,
                                           "total": startup + time.perf_counter() - begin}),
    )


def run_all(models: list[ZooModel], data_path: str | Path | None = None,
            set_pairs: list[str] | None = None, config: SamplerConfig = SamplerConfig(),
            jobs: int = 1) -> Iterator[Result]:
    """:func:`run` for each model, yielded in the order given.

    With ``jobs`` > 1 this process and ``jobs`` - 1 worker processes
    (:func:`zoo.core.workers.spawned_pool`) share the models: the workers take them from the
    front, this process, whose imports are already paid for, from the back. Each run is seeded on its own: the numbers do not depend on ``jobs``.
    Results come in the order given, each as soon as it and those before it are finished.
    No progress bars then.
    """
    if jobs <= 1 or len(models) <= 1:
        for model in models:
            yield run(model, data_path, set_pairs, config)
        return
    quiet = replace(config, progressbar=False)
    with spawned_pool(min(jobs, len(models)) - 1) as pool:
        futures = [pool.submit(run, model, data_path, set_pairs, quiet) for model in models]
        here, given = {}, 0
        for index in reversed(range(len(models))):
            if futures[index].cancel():  # not yet taken by a worker
                here[index] = run(models[index], data_path, set_pairs, quiet)
            # what is finished at the front, in order, rather than all at the end
            while given < index and (given in here or futures[given].done()):
                yield here[given] if given in here else futures[given].result()
                given += 1
        for index in range(given, len(models)):
            yield here[index] if index in here else futures[index].result()


def run_seconds(fit: Fit, startup: float, measured: dict[str, float]) -> dict[str, float]:
    """The run's ``seconds``: ``measured`` (the log-density check, reference, fit, diagnostics,
    and the ``total`` with the command's ``startup``) and where they went: imports (the
    ``startup``, the run's own and the sampler's), graph building and compiling
    (every fit of the run), sampling (see :func:`sampling_seconds`)."""
    phases = stopwatch.collected()
    return {**measured, "imports": startup + phases.pop("imports", 0.0),
            "building": phases.pop("building", 0.0), "compiling": phases.pop("compiling", 0.0),
            **phases, **sampling_seconds(fit)}


def sampling_seconds(fit: Fit) -> dict[str, float]:
    """Seconds the samplers report spending on draws, for the main posterior and for every
    fit of the run; the rest of the fit's time is mostly compiling (``zoo bench`` splits them)."""
    main = sampling_time(fit.idata)
    return {"sampling": main, "sampling_total": main + sum(map(sampling_time, fit.extra.values()))}
