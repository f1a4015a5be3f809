"""posteriordb's reference posterior definition (its doc/REFERENCE_POSTERIOR_DEFINITION.md),
as diagnostics and checks computed with ArviZ from the draws' chains.

A reference posterior has 10,000 draws, R-hat below 1.01, lag-1 autocorrelation below 0.05 in
absolute value (mean over chains), and, for HMC, E-FMI above 0.2 and no divergences. Its info
file records the checks made (``checks_made``); the ESS bounds are posteriordb's own (its R
package's ``ess_bounds``: ndraws +- 4 sqrt(7 ndraws), both bulk and tail ESS), which is where
independent draws fall. Exact draws have no HMC, so E-FMI and divergences do not apply: they
are not among the checks made, and the info file says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import arviz as az
import numpy as np

NDRAWS = 10_000
MIN_CHAINS = 4
R_HAT_MAX = 1.01
LAG1_MAX = 0.05
#: posteriordb's tail ESS is taken at the 5% and 95% quantiles (R's posterior::ess_tail)
TAIL_PROB = (0.05, 0.95)


def ess_bounds(ndraws: int) -> tuple[float, float]:
    """posteriordb's bounds for bulk and tail ESS of independent draws."""
    spread = 4 * math.sqrt(7) * math.sqrt(ndraws)
    return ndraws - spread, ndraws + spread


def lag1_autocorrelation(x: np.ndarray) -> float:
    """Mean over chains of each chain's lag-1 autocorrelation; x is (chains, draws)."""
    centred = x - x.mean(axis=1, keepdims=True)
    return float(np.mean(np.sum(centred[:, 1:] * centred[:, :-1], axis=1)
                         / np.sum(centred**2, axis=1)))


def diagnostics(keyed: dict[str, np.ndarray]) -> dict:
    """The info file's ``diagnostics``: per Stan name, in order, ESS, R-hat and lag-1 autocorrelation."""
    names = list(keyed)
    chains, draws = next(iter(keyed.values())).shape
    return {
        "diagnostic_information": {"names": names},
        "ndraws": chains * draws,
        "nchains": chains,
        "effective_sample_size_bulk": [float(az.ess(keyed[n], method="bulk")) for n in names],
        "effective_sample_size_tail": [float(az.ess(keyed[n], method="tail", prob=TAIL_PROB))
                                       for n in names],
        "r_hat": [float(az.rhat(keyed[n])) for n in names],
        "mean_lag1_ac": [lag1_autocorrelation(keyed[n]) for n in names],
    }


def checks(found: dict) -> dict[str, bool]:
    """The definition's checks on ``diagnostics``' output, named as posteriordb names them."""
    low, high = ess_bounds(found["ndraws"])
    ess = found["effective_sample_size_bulk"] + found["effective_sample_size_tail"]
    return {
        "ndraws_is_10k": found["ndraws"] == NDRAWS,
        "nchains_is_gte_4": found["nchains"] >= MIN_CHAINS,
        "ess_within_bounds": all(low <= e <= high for e in ess),
        "r_hat_below_1_01": all(r < R_HAT_MAX for r in found["r_hat"]),
        "abs_mean_lag1_ac_below_0_05": all(abs(a) < LAG1_MAX for a in found["mean_lag1_ac"]),
    }


@dataclass(frozen=True)
class Moment:
    """A posterior mean of x or of x^2 from reference draws, with ArviZ's MCSE from the chains."""

    value: float
    mcse: float


def moments(x: np.ndarray) -> dict[str, Moment]:
    """``mean`` and ``mean_square`` of (chains, draws) draws, each with its MCSE."""
    return {stat: Moment(float(y.mean()), float(az.mcse(y, method="mean")))
            for stat, y in (("mean", x), ("mean_square", x**2))}


def summary_statistics(keyed: dict[str, np.ndarray]) -> dict[str, dict]:
    """posteriordb's summary_statistics files: mean_value and mean_squared_value with mcse_mean."""
    found = {name: moments(x) for name, x in keyed.items()}
    return {
        file: {"names": list(keyed), file: [found[n][stat].value for n in keyed],
               "mcse_mean": [found[n][stat].mcse for n in keyed]}
        for file, stat in (("mean_value", "mean"), ("mean_squared_value", "mean_square"))
    }
