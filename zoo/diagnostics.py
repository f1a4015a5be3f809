"""Convergence diagnostics read from the posterior, never left to the sampler to print."""

from __future__ import annotations

from dataclasses import dataclass, field

import arviz as az
import numpy as np
import xarray as xr

R_HAT_MAX = 1.01
ESS_BULK_MIN = 400
#: a chain is "stuck" when its mean of some scalar sits this many within-chain sds from the
#: median of the chain means: well-mixed chains differ by ~sd/sqrt(ESS), a wrong mode by >> sd
STUCK_SDS = 3.0


@dataclass
class Diagnostics:
    r_hat_max: float
    ess_bulk_min: float
    divergences: int
    stuck_chains: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "r_hat_max": self.r_hat_max,
            "ess_bulk_min": self.ess_bulk_min,
            "divergences": self.divergences,
            "stuck_chains": self.stuck_chains,
            "converged": self.converged,
            "problems": self.problems,
        }


def scalar_draws(idata: xr.DataTree, var_names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Each scalar of the posterior as a (chain, draw) array, named ``var`` or ``var[i]``."""
    posterior = idata.posterior
    names = var_names or list(posterior.data_vars)
    out = {}
    for name in names:
        values = np.asarray(posterior[name].values, dtype=float)
        flat = values.reshape(values.shape[0], values.shape[1], -1)
        if values.ndim == 2:
            out[name] = flat[:, :, 0]
        else:
            for i in range(flat.shape[2]):
                out[f"{name}[{i}]"] = flat[:, :, i]
    return out


def diagnose(idata: xr.DataTree, var_names: list[str] | None = None) -> Diagnostics:
    """R-hat, bulk ESS, divergences and stuck chains, with a sentence for every failure."""
    draws = scalar_draws(idata, var_names)
    r_hat = {name: float(az.rhat(x)) for name, x in draws.items() if np.ptp(x) > 0}
    ess = {name: float(az.ess(x, method="bulk")) for name, x in draws.items() if np.ptp(x) > 0}
    divergences = 0
    if "sample_stats" in idata.children and "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].sum())
    diag = Diagnostics(
        r_hat_max=max(r_hat.values(), default=float("nan")),
        ess_bulk_min=min(ess.values(), default=float("nan")),
        divergences=divergences,
        stuck_chains=stuck_chains(draws),
    )
    worst_r = max(r_hat, key=r_hat.get, default=None)
    worst_e = min(ess, key=ess.get, default=None)
    if worst_r and r_hat[worst_r] > R_HAT_MAX:
        diag.problems.append(f"R-hat {r_hat[worst_r]:.3f} > {R_HAT_MAX} for {worst_r}")
    if worst_e and ess[worst_e] < ESS_BULK_MIN:
        diag.problems.append(f"bulk ESS {ess[worst_e]:.0f} < {ESS_BULK_MIN} for {worst_e}")
    if divergences:
        diag.problems.append(f"{divergences} divergent transitions")
    if diag.stuck_chains:
        diag.problems.append(f"chain(s) {diag.stuck_chains} disagree with the others (stuck mode)")
    return diag


def stuck_chains(draws: dict[str, np.ndarray]) -> list[int]:
    """Chains whose mean of any scalar is more than STUCK_SDS within-chain sds off the median."""
    stuck: set[int] = set()
    for x in draws.values():
        if x.shape[0] < 3:
            continue  # with two chains there is no majority to disagree with
        means = x.mean(axis=1)
        spread = np.median(x.std(axis=1))
        if spread > 0:
            stuck.update(np.flatnonzero(np.abs(means - np.median(means)) > STUCK_SDS * spread))
    return sorted(int(c) for c in stuck)
