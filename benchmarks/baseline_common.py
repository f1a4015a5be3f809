"""What every baseline script shares: options, timing of PyMC's calls, and one JSON line.

A baseline is the zoo's model written the plain PyMC way, with PyMC's defaults: ``pm.sample``
chooses the sampler (nutpie here), its tuning and draws; only ``chains=4`` is fixed (the default
on a 2-CPU machine is 2, too few to tell a stuck chain) and the progress bar is off. ``zoo bench``
runs each script in a fresh process and times the whole process itself; the script reports the
split of its own PyMC calls: sampling time (PyMC's ``sampling_time``, SMC's ``_t_sampling``)
and everything else in those calls (compilation and initialisation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pymc as pm
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from zoo.diagnostics import diagnose
from zoo.sampling import smc_log_evidence as zoo_smc_log_evidence

DATA = Path(__file__).resolve().parents[1] / "data"


class Timer:
    """Adds up the wall time of PyMC calls and the sampling time each reports."""

    def __init__(self) -> None:
        self.calls = 0.0
        self.sampling = 0.0

    def sample(self, model: pm.Model, options: dict, **kwargs) -> xr.DataTree:
        """``pm.sample`` with PyMC's defaults, 4 chains, and the bench's --draws/--tune."""
        xr.DataArray(np.zeros(1))  # xarray's one-time import of dask (if installed): not sampling
        begin = time.perf_counter()
        with model:
            idata = pm.sample(chains=4, progressbar=False, **options, **kwargs)
        self.calls += time.perf_counter() - begin
        self.sampling += float(idata.posterior.attrs["sampling_time"])
        return idata

    def sample_smc(self, model: pm.Model, seed: int) -> xr.DataTree:
        """``pm.sample_smc`` with its defaults."""
        begin = time.perf_counter()
        with model:
            idata = pm.sample_smc(random_seed=seed, progressbar=False)
        self.calls += time.perf_counter() - begin
        self.sampling += float(idata.sample_stats.attrs["_t_sampling"])
        return idata


def options() -> tuple[dict, Timer]:
    """The bench's options as ``pm.sample`` keywords (only those given), and a fresh Timer."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true", help="print one JSON line (always done)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    args = parser.parse_args()
    chosen = {"random_seed": args.seed}
    chosen.update({k: v for k, v in (("draws", args.draws), ("tune", args.tune)) if v})
    return chosen, Timer()


def report(name: str, idata: xr.DataTree, timer: Timer, **extra: float) -> None:
    """Print the baseline's one JSON line: timings and diagnostics of the main posterior."""
    diag = diagnose(idata)
    main_sampling = float(idata.posterior.attrs["sampling_time"])
    print(json.dumps({
        "model": name,
        "sampler": idata.posterior.attrs.get("inference_library"),
        "compile": timer.calls - timer.sampling,
        "sampling": main_sampling,
        "sampling_total": timer.sampling,
        "ess_bulk_min": diag.ess_bulk_min,
        "ess_per_second": diag.ess_bulk_min / main_sampling,
        "r_hat_max": diag.r_hat_max,
        "divergences": diag.divergences,
        "stuck_chains": diag.stuck_chains,
        **extra,
    }, default=float))


def smc_log_evidence(idata: xr.DataTree) -> float:
    """Mean over chains of SMC's last-stage log evidence."""
    return float(np.mean(zoo_smc_log_evidence(idata)))