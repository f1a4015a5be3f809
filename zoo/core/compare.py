"""The comparison engine: posterior estimates against references, in units of MCSE.

A check passes when |z| <= z_bound(number of checks), z = (estimate - reference) /
sqrt(mcse^2 + se_ref^2). With a correct model z is roughly standard normal, so a bound of 4
fails about 1 check in 16,000 by chance while any error larger than a few MCSE fails. A model
with many checks (rat tumors has 151) gets a wider bound so that a correct model still fails
by chance in at most FAMILY_ALPHA of runs (Bonferroni): 4.5 for 151 checks. A check derived
exactly from another (``Reference.derived``: p_factory[1] = 1 - p_factory[0]) fails exactly
when its source does, so it does not widen the bound.

Nothing passes by default: a check whose estimate, MCSE or reference (or its error) is NaN or
infinite fails, with its z shown as NaN or inf. An estimate whose MCSE comes from a few
independent replicates (``Estimate.df``, e.g. SMC's log Bayes factor from 8 + 8 chains) has a
t-distributed ratio t = (estimate - reference) / mcse, with heavier tails than the normal: its
z is the normal-equivalent z with the same tail probability, so that the same bound holds the
same false-alarm rate, and the raw t is given in a note (``checks.attrs["notes"]``).
"""

from __future__ import annotations

import math
import re

import numpy as np

from zoo.core.deferred import az, pd, stats, xr
from zoo.core.results import Estimate, Fit, Reference

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


def scalar_of(check: str) -> str:
    """The scalar a check is about, named as the draws name it: ``theta[1].sd`` -> ``theta[1]``."""
    var, index, _ = parse_check(check)
    return var if index is None else f"{var}[{index}]"


def sd_check_of(check: str) -> str:
    """The name of the sd check of the scalar a mean check is about."""
    return f"{scalar_of(check)}.sd"


def check_draws(posterior: xr.Dataset, check: str) -> np.ndarray:
    """The (chain, draw) draws of the scalar a check (or a scalar's name) is about, from a
    posterior group: ``theta[1].sd`` -> theta's element 1, flattened over its dimensions."""
    var, index, _ = parse_check(check)
    values = np.asarray(posterior[var].values, dtype=float)
    return values.reshape(values.shape[0], values.shape[1], -1)[:, :, index or 0]


def reference_sd(reference: Reference, check: str) -> tuple[float, float] | None:
    """The exact posterior sd of a mean check's quantity and that sd's own standard error: the
    reference of its ``.sd`` check, else the reference's ``sds``; None when it has neither."""
    sd_check = sd_check_of(check)
    if sd_check in reference.values:
        return reference.values[sd_check], reference.errors.get(sd_check, 0.0)
    if check in reference.sds:
        return reference.sds[check], 0.0
    return None


def z_bound(n_checks: int) -> float:
    """The |z| a model with ``n_checks`` checks must stay within: 4, or wider for many checks."""
    return max(Z_BOUND, float(stats.norm.isf(FAMILY_ALPHA / (2 * max(n_checks, 1)))))


def posterior_estimate(idata: xr.DataTree, name: str) -> Estimate:
    """The posterior mean or sd named by a check, with ArviZ's MCSE for it."""
    stat = parse_check(name)[2]
    x = check_draws(idata.posterior, name)
    value = float(x.mean()) if stat == "mean" else float(x.std(ddof=1))
    return Estimate(value, float(az.mcse(x, method=stat)))


def compare(fit: Fit, reference: Reference) -> pd.DataFrame:
    """One row per check: name, reference, estimate, mcse, z, passed.

    ``attrs["notes"]`` of the table holds a sentence per check whose z was converted from a t
    (its raw t and degrees of freedom); ``attrs["z_bound"]`` the |z| bound the checks met.
    """
    rows, notes = [], []
    bound = z_bound(len(reference.counted))  # a derived check is no further chance to fail
    for name, ref in reference.values.items():
        if name in fit.estimates:
            est = fit.estimates[name]
        else:
            est = posterior_estimate(fit.idata, name)
        se_ref = reference.errors.get(name, 0.0)
        z = z_score(est.value, float(ref), est.mcse, se_ref)
        df = combined_df(est.mcse, se_ref, est.df)
        if df is not None and math.isfinite(z):
            raw, z = z, normal_equivalent(z, df)
            notes.append(f"{name}: z {z:+.2f} is the normal z with the tail probability of "
                         f"t = {raw:+.2f} on {df:.1f} degrees of freedom (its MCSE's)")
        finite = all(math.isfinite(v) for v in (est.value, est.mcse, ref, se_ref))
        rows.append({
            "name": name,
            "reference": float(ref),
            "estimate": est.value,
            "mcse": est.mcse,
            "z": z,
            "passed": bool(finite and abs(z) <= bound),
        })
    checks = pd.DataFrame(rows, columns=["name", "reference", "estimate", "mcse", "z", "passed"])
    checks.attrs["notes"] = notes
    checks.attrs["z_bound"] = bound
    return checks


def z_score(value: float, ref: float, mcse: float, se_ref: float) -> float:
    """(value - ref) / sqrt(mcse^2 + se_ref^2); NaN or inf, never a finite number, when any
    input is NaN or infinite (an infinite MCSE must not make z 0)."""
    scale = math.hypot(mcse, se_ref)
    if not all(math.isfinite(v) for v in (value, ref, scale)):
        z = (value - ref) / scale if scale else math.nan
        return z if not math.isfinite(z) else math.nan
    if scale > 0:
        return (value - ref) / scale
    return 0.0 if value == ref else math.copysign(math.inf, value - ref)


def combined_df(mcse: float, se_ref: float, df: float | None) -> float | None:
    """Welch-Satterthwaite degrees of freedom of sqrt(mcse^2 + se_ref^2) when the MCSE has
    ``df`` and the reference's error is exact (infinite df); None when z is normal."""
    if df is None or not (df > 0 and mcse > 0):
        return None
    return (mcse**2 + se_ref**2) ** 2 / (mcse**4 / df)


def normal_equivalent(z: float, df: float) -> float:
    """The normal z whose tail probability is that of a t on ``df`` degrees of freedom at z."""
    return math.copysign(float(stats.norm.isf(stats.t.sf(abs(z), df))), z)


def round_to_mcse(value: float, mcse: float) -> str:
    """``value`` with as many decimals as its Monte Carlo error supports (one digit of mcse)."""
    if not math.isfinite(value):
        return str(value)
    if not mcse or not math.isfinite(mcse):
        return f"{value:.6g}"
    decimals = max(0, -math.floor(math.log10(abs(mcse))))
    return f"{value:.{decimals}f}"
