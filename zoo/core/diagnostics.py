"""Convergence diagnostics read from the posterior, never left to the sampler to print."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from zoo.core.deferred import az, xr

R_HAT_MAX = 1.01
ESS_BULK_MIN = 400
#: how a problem names the bulk ESS (zoo.report.text adds what to do when it is under its floor)
ESS_LABEL = "bulk ESS"
#: a chain is "stuck" when its mean of some scalar sits this many within-chain sds from the
#: median of the chain means: well-mixed chains differ by ~sd/sqrt(ESS), a wrong mode by >> sd
STUCK_SDS = 3.0
#: how many names a problem lists before it only counts the rest
NAMES_SHOWN = 8


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
    """R-hat, bulk ESS, MCSE, divergences and stuck chains, with a sentence for every failure.

    No scalar is skipped: one whose draws are constant or not all finite is a problem by name
    (its R-hat and ESS are undefined), and so is a NaN or infinite R-hat, bulk ESS or MCSE of
    the mean. ``r_hat_max`` and ``ess_bulk_min`` are NaN when any scalar's is (or when there
    is no scalar at all), so the report and the JSON show it.
    """
    draws = scalar_draws(idata, var_names)
    nonfinite, constant = undefined_scalars(draws)
    undefined = {*nonfinite, *constant}
    r_hat, ess = r_hat_and_ess(draws)
    mcse = {name: float("nan") if name in undefined else float(az.mcse(x, method="mean"))
            for name, x in draws.items()}
    divergences = 0
    if "sample_stats" in idata.children and "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].sum())
    diag = Diagnostics(
        r_hat_max=worst(r_hat, max),
        ess_bulk_min=worst(ess, min),
        divergences=divergences,
        stuck_chains=stuck_chains({n: x for n, x in draws.items() if n not in undefined}),
    )
    problems = diag.problems
    if not draws:
        problems.append("no posterior scalar to diagnose")
    problems += named("draws not all finite (NaN or inf)", nonfinite)
    problems += named("constant draws (R-hat and ESS undefined)", constant)
    for label, values in (("R-hat", r_hat), (ESS_LABEL, ess), ("MCSE of the mean", mcse)):
        problems += named(f"{label} not finite", [n for n, v in values.items()
                                                  if n not in undefined and not math.isfinite(v)])
    problems += beyond("R-hat", r_hat, R_HAT_MAX, above=True, digits=3)
    problems += beyond(ESS_LABEL, ess, ESS_BULK_MIN, above=False, digits=0)
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    if diag.stuck_chains:
        problems.append(f"chain(s) {diag.stuck_chains} disagree with the others (stuck mode)")
    return diag


def undefined_scalars(draws: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """The scalars whose draws are not all finite, and those whose draws are constant: both
    have no R-hat or ESS."""
    nonfinite = [name for name, x in draws.items() if not np.isfinite(x).all()]
    constant = [name for name, x in draws.items() if name not in nonfinite and np.ptp(x) == 0]
    return nonfinite, constant


def r_hat_and_ess(draws: dict[str, np.ndarray]) -> tuple[dict[str, float], dict[str, float]]:
    """Each scalar's R-hat and bulk ESS; NaN for one whose draws are not finite or constant."""
    undefined = set().union(*undefined_scalars(draws))
    nan = float("nan")
    r_hat = {name: nan if name in undefined else float(az.rhat(x)) for name, x in draws.items()}
    ess = {name: nan if name in undefined else float(az.ess(x, method="bulk"))
           for name, x in draws.items()}
    return r_hat, ess


def worst(values: dict[str, float], pick) -> float:
    """max or min of ``values``, NaN if any is NaN or there are none (never a NaN skipped)."""
    array = np.array(list(values.values()), dtype=float)
    if not array.size or np.isnan(array).any():
        return float("nan")
    return float(pick(array))


def beyond(label: str, values: dict[str, float], limit: float, above: bool, digits: int) -> list[str]:
    """One sentence for the finite values past ``limit``: the worst with its name, and a count."""
    bad = {n: v for n, v in values.items() if math.isfinite(v) and (v > limit if above else v < limit)}
    if not bad:
        return []
    worst = (max if above else min)(bad, key=bad.__getitem__)
    sign = ">" if above else "<"
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return [f"{label} {bad[worst]:.{digits}f} {sign} {limit} for {worst}{more}"]


def named(what: str, names: list[str], shown: int = NAMES_SHOWN) -> list[str]:
    """One sentence naming the scalars with a problem, at most ``shown`` names and the count."""
    if not names:
        return []
    listed = ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")
    return [f"{what}: {listed} ({len(names)})"]


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
