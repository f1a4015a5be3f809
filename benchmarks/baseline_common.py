"""What every baseline shares: timing of PyMC's calls and the figures of one fit.

A baseline is the zoo's model written the plain PyMC way, with PyMC's defaults: ``pm.sample``
chooses the sampler (nutpie here) and its tuning; ``chains=4`` is fixed (the default on a
2-CPU machine is 2, too few to tell a stuck chain), the draws are the zoo model's (the same
work on both sides), the progress bar is off, and ``cores`` is the zoo's unless the bench asks
for PyMC's own default (``cores = cpu_count() // 2``: one thread for four chains on two CPUs).
The bench runs every baseline in one process (``zoo.benchmarks.one_process``); each reports
the split of its own PyMC calls: sampling time (PyMC's ``sampling_time``, SMC's
``_t_sampling``) and everything else in those calls (compilation and initialisation), and the
gradient evaluations its NUTS draws took.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from zoo.core.diagnostics import Diagnostics, diagnose
from zoo.core.sampling import sampling_time
from zoo.core.sampling import smc_log_evidence as zoo_smc_log_evidence


class Timer:
    """Adds up the wall time of PyMC calls and the sampling time each reports; holds the
    ``pm.sample`` keywords the bench chose (seed, draws, cores, and --tune when given)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.calls = 0.0
        self.sampling = 0.0

    def sample(self, model: pm.Model) -> xr.DataTree:
        """``pm.sample`` with PyMC's defaults, 4 chains, and the bench's options."""
        xr.DataArray(np.zeros(1))  # xarray's one-time import of dask (if installed): not sampling
        begin = time.perf_counter()
        with model:
            idata = pm.sample(chains=4, progressbar=False, **self.options)
        self.calls += time.perf_counter() - begin
        self.sampling += sampling_time(idata)
        return idata

    def sample_smc(self, model: pm.Model) -> xr.DataTree:
        """``pm.sample_smc`` with its defaults (the bench's seed only)."""
        begin = time.perf_counter()
        with model:
            idata = pm.sample_smc(random_seed=self.options["random_seed"], progressbar=False)
        self.calls += time.perf_counter() - begin
        self.sampling += sampling_time(idata)
        return idata


def gradient_evaluations(idata: xr.DataTree) -> int:
    """Leapfrog steps (one gradient each) over the kept NUTS draws: ``n_steps`` is the name in
    both nutpie's and PyMC's sample stats. Tuning is not kept, so not counted."""
    return int(idata.sample_stats["n_steps"].sum())


def efficiency(idata: xr.DataTree, diag: Diagnostics, sampling: float) -> dict[str, Any]:
    """The figures both sides of the bench report for a fit: min bulk ESS per second of
    ``sampling`` and per gradient evaluation, and the diagnostics beside them."""
    gradients = gradient_evaluations(idata)
    return {
        "ess_bulk_min": diag.ess_bulk_min,
        "gradients": gradients,
        "ess_per_second": diag.ess_bulk_min / sampling,
        "ess_per_gradient": diag.ess_bulk_min / gradients,
        "r_hat_max": diag.r_hat_max,
        "divergences": diag.divergences,
        "stuck_chains": len(diag.stuck_chains),
    }


def report(name: str, idata: xr.DataTree, timer: Timer, var_names: list[str] | None = None,
           **extra: float) -> dict[str, Any]:
    """The baseline's figures: timings and diagnostics of the main posterior (of ``var_names``
    only, when given)."""
    main_sampling = sampling_time(idata)
    return {
        "model": name,
        "sampler": idata.posterior.attrs.get("inference_library"),
        "compile": timer.calls - timer.sampling,
        "sampling": main_sampling,
        "sampling_total": timer.sampling,
        **efficiency(idata, diagnose(idata, var_names), main_sampling),
        **extra,
    }


def smc_log_evidence(idata: xr.DataTree) -> float:
    """Mean over chains of SMC's last-stage log evidence."""
    return float(np.mean(zoo_smc_log_evidence(idata)))
