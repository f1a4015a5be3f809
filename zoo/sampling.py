"""Sampling with the settings a run records: NUTS (PyMC's own or nutpie) and SMC.

Output is silenced here (PyMC logs go to ERROR level) because the zoo reads and reports
the diagnostics itself: nutpie prints nothing about divergences.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import pymc as pm
import xarray as xr

DEFAULT_SEED = 20261125


@dataclass(frozen=True)
class SamplerConfig:
    """Everything that decides the draws; recorded in every report."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 2
    seed: int = DEFAULT_SEED
    sampler: str = "nuts"  # "nuts" or "smc"
    nuts_sampler: str | None = None  # "pymc" or "nutpie"; None: the model's choice
    target_accept: float = 0.9
    progressbar: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def quiet_pymc() -> None:
    """Silence PyMC's logging and the known-harmless warnings the zoo handles itself."""
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="The effect of Potentials")
    warnings.filterwarnings("ignore", message="overflow encountered", category=RuntimeWarning)
    warnings.filterwarnings("ignore", message="We recommend running at least")


@contextmanager
def interrupts_raised() -> Iterator[None]:
    """Ctrl-C stops the run. PyMC catches KeyboardInterrupt, ends sampling early and returns
    the draws so far (or, during tuning, fails with "Not enough samples"); the zoo must not
    compare or save those, so it raises the interrupt again once PyMC is done (the CLI exits
    130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen = []

    def interrupt(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    except Exception:
        if seen:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt


def sample_nuts(
    model: pm.Model,
    config: SamplerConfig,
    *,
    nuts_sampler: str = "pymc",
    initvals: dict | list[dict] | None = None,
    seed_offset: int = 0,
    init: str = "auto",
) -> xr.DataTree:
    """NUTS with the run's settings; ``seed_offset`` separates several fits in one run.

    ``initvals`` may be one dict or (PyMC's NUTS only) one per chain; ``init="adapt_diag"``
    starts each chain exactly there, without PyMC's default jitter.
    """
    quiet_pymc()
    with model, interrupts_raised():
        return pm.sample(
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            cores=min(config.cores, config.chains),
            random_seed=config.seed + seed_offset,
            nuts_sampler=nuts_sampler,
            target_accept=config.target_accept,
            initvals=initvals,
            init=init,
            progressbar=config.progressbar and sys.stdout.isatty(),
            compute_convergence_checks=False,
        )


def sample_smc(model: pm.Model, config: SamplerConfig, *, seed_offset: int = 0) -> xr.DataTree:
    """SMC with ``draws`` particles per chain; its sample_stats carry the log evidence."""
    quiet_pymc()
    with model, interrupts_raised():
        return pm.sample_smc(
            draws=config.draws,
            chains=config.chains,
            cores=min(config.cores, config.chains),
            random_seed=config.seed + seed_offset,
            progressbar=config.progressbar and sys.stdout.isatty(),
            compute_convergence_checks=False,
        )


def smc_log_evidence(idata: xr.DataTree) -> np.ndarray:
    """Each SMC chain's final-stage estimate of log p(data) (stages are ragged objects)."""
    stages = idata.sample_stats["log_marginal_likelihood"]
    return np.array(
        [np.asarray(stages.isel(chain=c).values.tolist(), dtype=float).ravel()[-1]
         for c in range(stages.sizes["chain"])]
    )


def smc_stats_to_numeric(idata: xr.DataTree) -> xr.DataTree:
    """A copy whose ragged object-dtype SMC stats are NaN-padded floats, so NetCDF can save it."""
    stats = idata["sample_stats"].to_dataset()
    numeric = {}
    for name, array in stats.data_vars.items():
        if array.dtype != object:
            numeric[name] = array
            continue
        rows = [np.asarray(array.isel(chain=c).values.tolist(), dtype=float).ravel()
                for c in range(array.sizes["chain"])]
        padded = np.full((len(rows), max(map(len, rows))), np.nan)
        for i, row in enumerate(rows):
            padded[i, : len(row)] = row
        numeric[name] = xr.DataArray(padded, dims=("chain", "stage"),
                                     coords={"chain": stats["chain"].values})
    copy = idata.copy()
    copy["sample_stats"] = xr.Dataset(numeric, attrs=stats.attrs)
    return copy
