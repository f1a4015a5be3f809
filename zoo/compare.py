"""The comparison engine: posterior estimates against references, in units of MCSE.

A check passes when |z| <= z_bound(number of checks), z = (estimate - reference) /
sqrt(mcse^2 + se_ref^2). With a correct model z is roughly standard normal, so a bound of 4
fails about 1 check in 16,000 by chance while any error larger than a few MCSE fails. A model
with many checks (rat tumors has 151) gets a wider bound so that a correct model still fails
by chance in at most FAMILY_ALPHA of runs (Bonferroni): 4.5 for 151 checks.
"""

from __future__ import annotations

import math
import re

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import norm

from zoo.model import Estimate, Fit, Reference

Z_BOUND = 4.0
FAMILY_ALPHA = 1e-3
_CHECK = re.compile(r"^(?P<var>[A-Za-z_][\w]*)(\[(?P<index>\d+)\])?(\.(?P<stat>mean|sd))?$")


def parse_check(name: str) -> tuple[str, int | None, str]:
    """``theta[1].sd`` -> ('theta', 1, 'sd'); a name without a statistic means its mean."""
    match = _CHECK.match(name)
    if not match:
        raise ValueError(f"not a check name: {name!r}")
    index = match["index"]
    return match["var"], None if index is None else int(index), match["stat"] or "mean"


def z_bound(n_checks: int) -> float:
    """The |z| a model with ``n_checks`` checks must stay within: 4, or wider for many checks."""
    return max(Z_BOUND, float(norm.isf(FAMILY_ALPHA / (2 * max(n_checks, 1)))))


def posterior_estimate(idata: xr.DataTree, name: str) -> Estimate:
    """The posterior mean or sd named by a check, with ArviZ's MCSE for it."""
    var, index, stat = parse_check(name)
    values = np.asarray(idata.posterior[var].values, dtype=float)
    x = values.reshape(values.shape[0], values.shape[1], -1)[:, :, index or 0]
    value = float(x.mean()) if stat == "mean" else float(x.std(ddof=1))
    return Estimate(value, float(az.mcse(x, method=stat)))


def compare(fit: Fit, reference: Reference) -> pd.DataFrame:
    """One row per check: name, reference, estimate, mcse, z, passed."""
    rows = []
    bound = z_bound(len(reference.values))
    for name, ref in reference.values.items():
        if name in fit.estimates:
            est = fit.estimates[name]
        else:
            est = posterior_estimate(fit.idata, name)
        se_ref = reference.errors.get(name, 0.0)
        scale = math.hypot(est.mcse, se_ref)
        z = (est.value - ref) / scale if scale > 0 else (0.0 if est.value == ref else math.inf)
        rows.append({
            "name": name,
            "reference": float(ref),
            "estimate": est.value,
            "mcse": est.mcse,
            "z": z,
            "passed": bool(abs(z) <= bound),
        })
    return pd.DataFrame(rows, columns=["name", "reference", "estimate", "mcse", "z", "passed"])


def round_to_mcse(value: float, mcse: float) -> str:
    """``value`` with as many decimals as its Monte Carlo error supports (one digit of mcse)."""
    if not math.isfinite(value):
        return str(value)
    if not mcse or not math.isfinite(mcse):
        return f"{value:.6g}"
    decimals = max(0, -math.floor(math.log10(abs(mcse))))
    return f"{value:.{decimals}f}"
