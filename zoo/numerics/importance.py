"""Posterior moments without MCMC, for models with no closed form: Pareto-smoothed importance
sampling from a mixture of multivariate t's, one at each posterior mode found.

A model gives its log posterior density on an unconstrained space R^d (Jacobians included),
written from its mathematics and vectorised over rows, independently of its PyMC model: a
reference computed from the PyMC model's own log density would share any fault of it.

Several modes. A proposal placed at one mode cannot see another: Pareto k judges the weights
of the draws it made, and none falls in a mode it never reached. The model therefore gives
several starting points (other local optima, their images under the model's symmetries); BFGS
climbs from each (but from a start within ``START_NEAR_SDS`` of a mode already found), modes
within ``SAME_MODE_SDS`` posterior sds of one found before are the same, and the curvature at
each (central differences) gives its Laplace approximation and mass. Modes under
``MODE_MASS_MIN`` of the total Laplace mass are left out.

Per mode, a pilot of ``PILOT_DRAWS`` draws from a multivariate t (``T_DF`` degrees of freedom:
heavier tails than a nearly Gaussian posterior, so the importance weights stay bounded) at the
Laplace approximation, its covariance widened ``PILOT_SCALE`` times, gives the mode's weighted
mean and covariance and its importance-sampling evidence; the final proposal is the mixture
of t's with those means and ``ADAPTED_SCALE`` times those covariances, each weighted by its
evidence. This one step of adaptive importance sampling matters where the posterior is
skewed (small data, overlapping components): the Laplace approximation alone left Pareto k
near the 0.7 limit there (``benchmarks/importance_proposal.py``). The final draws' weights
use the whole mixture's density, so the estimates are of the whole posterior, every mode in
its own mass, and PSIS (Vehtari et al. 2024, ArviZ's ``psislw``) gives one Pareto k for the
whole: below ``PARETO_K_MAX`` = 0.7 the self-normalised estimates converge at the usual rate
and their Monte Carlo errors, computed with the smoothed weights, can be trusted; above, the
caller must fall back on a weaker check or refuse, and say so. With one mode this is the
single t of before.

Monte Carlo errors of self-normalised importance sampling (Owen 2013, ch. 9), with normalised
weights w_i: the mean's is sqrt(sum w_i^2 (f_i - mean)^2); the sd's, by the delta method,
sqrt(sum w_i^2 ((f_i - mean)^2 - var)^2) / (2 sd).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from zoo.core.deferred import arviz_stats_base, optimize, special, stats

#: trust the estimates only below this Pareto k (Vehtari et al. 2024)
PARETO_K_MAX = 0.7
#: the proposal's degrees of freedom
T_DF = 5
#: draws of the pilot that places the final proposal, and its covariance in units of the
#: Laplace approximation's
PILOT_DRAWS, PILOT_SCALE = 2000, 2.0
#: the final proposal's covariance, in units of the pilot's weighted posterior covariance
ADAPTED_SCALE = 2.5
#: relative step of the central differences for the curvature at the mode
HESSIAN_STEP = 1e-4
#: two optima closer than this many posterior sds in every coordinate are one mode
SAME_MODE_SDS = 1.0
#: a start this close to a mode found (in its sds, every coordinate) is not searched from
START_NEAR_SDS = 2.0
#: modes with less than this fraction of the total Laplace mass are left out of the proposal
MODE_MASS_MIN = 1e-4


class ReferenceFailed(ArithmeticError):
    """No trustworthy importance-sampling reference (no mode, no curvature, or k too large)."""


@dataclass(frozen=True)
class Target:
    """A log posterior on R^d and the quantities checked.

    ``log_density`` maps (m, d) points to (m,) log densities (up to a constant, Jacobians of the
    transforms included); ``quantities`` maps (m, d) points to named (m,) arrays; ``start`` is a
    point near the main mode (an EM or MAP answer), ``other_starts`` further points to search
    for modes from (other local optima, images of the start under the model's symmetries).
    """

    log_density: Callable[[np.ndarray], np.ndarray]
    quantities: Callable[[np.ndarray], dict[str, np.ndarray]]
    start: np.ndarray
    other_starts: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class Mode:
    """A posterior mode, the Laplace covariance there, and its Laplace log mass,
    log p(mode) + log det(cov) / 2 (up to the constant every mode shares)."""

    point: np.ndarray
    cov: np.ndarray
    log_mass: float


@dataclass
class Moments:
    """Posterior means and sds keyed as checks (``mu[0].mean``, ``mu[0].sd``), their Monte Carlo
    standard errors, and the importance sampler's own diagnostics."""

    values: dict[str, float]
    errors: dict[str, float]
    pareto_k: float
    ess: float
    draws: int
    notes: list[str] = field(default_factory=list)
    #: each mode's share of the posterior mass (its evidence in the proposal), largest first
    mode_masses: tuple[float, ...] = (1.0,)

    @property
    def trusted(self) -> bool:
        return bool(np.isfinite(self.pareto_k) and self.pareto_k <= PARETO_K_MAX)


def find_modes(target: Target) -> list[Mode]:
    """The distinct posterior modes reached from the target's starts, heaviest first, those
    with less than MODE_MASS_MIN of the total Laplace mass left out."""
    found: list[Mode] = []
    failures = []
    for start in (target.start, *target.other_starts):
        if any(near(start, mode, START_NEAR_SDS) for mode in found):
            continue  # it would climb to that mode: BFGS costs hundreds of density calls
        try:
            mode = laplace(target.log_density, start)
        except ReferenceFailed as err:
            failures.append(str(err))
            continue
        if not any(same_mode(mode, other) for other in found):
            found.append(mode)
    if not found:
        raise ReferenceFailed(failures[0])
    found.sort(key=lambda mode: -mode.log_mass)
    masses = np.exp([mode.log_mass - found[0].log_mass for mode in found])
    return [mode for mode, mass in zip(found, masses / masses.sum()) if mass >= MODE_MASS_MIN]


def same_mode(a: Mode, b: Mode) -> bool:
    """Whether two optima are one mode: within SAME_MODE_SDS of each other's sds in every
    coordinate."""
    return near(a.point, b, SAME_MODE_SDS) and near(b.point, a, SAME_MODE_SDS)


def near(point: np.ndarray, mode: Mode, sds: float) -> bool:
    """Whether ``point`` is within ``sds`` of the mode's Laplace sds in every coordinate."""
    return bool(np.all(np.abs(point - mode.point) <= sds * np.sqrt(np.diag(mode.cov))))


def laplace(log_density: Callable[[np.ndarray], np.ndarray], start: np.ndarray) -> Mode:
    """The mode BFGS reaches from ``start`` and the Laplace approximation there."""
    def negative(u: np.ndarray) -> float:
        return -float(log_density(u[None, :])[0])

    found = optimize.minimize(negative, np.asarray(start, float), method="BFGS",
                              options={"gtol": 1e-6, "maxiter": 2000})
    mode = found.x
    if not np.all(np.isfinite(mode)) or not np.isfinite(found.fun):
        raise ReferenceFailed(f"no finite posterior mode ({found.message})")
    hessian = numerical_hessian(log_density, mode)
    try:
        cov = np.linalg.inv(-hessian)
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ReferenceFailed("the log posterior is not concave at its mode") from None
    return Mode(mode, cov, -float(found.fun) + 0.5 * float(np.linalg.slogdet(cov)[1]))


def numerical_hessian(log_density: Callable[[np.ndarray], np.ndarray],
                      point: np.ndarray) -> np.ndarray:
    """Central differences, all 4 d^2 points evaluated in one vectorised call."""
    d = point.size
    steps = HESSIAN_STEP * np.maximum(1.0, np.abs(point))
    unit = np.eye(d) * steps
    signs = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    points = np.array([point + a * unit[i] + b * unit[j]
                       for i in range(d) for j in range(d) for a, b in signs])
    values = log_density(points).reshape(d, d, 4)
    second = (values[..., 0] - values[..., 1] - values[..., 2] + values[..., 3])
    hessian = second / (4 * np.outer(steps, steps))
    return (hessian + hessian.T) / 2


def posterior_moments(target: Target, draws: int, seed: int) -> Moments:
    """Means and sds of every quantity by PSIS, from a mixture of t's, one per mode found,
    each placed by a pilot at its Laplace approximation."""
    rng = np.random.default_rng(seed)
    modes = find_modes(target)
    pilots = [pilot(target, mode, rng) for mode in modes]
    log_evidence = np.array([log_z for _, _, log_z in pilots])
    shares = np.exp(log_evidence - special.logsumexp(log_evidence))
    u, weights, k, _ = weighted_draws(target, [(loc, shape) for loc, shape, _ in pilots],
                                      shares, draws, rng)
    values, errors = {}, {}
    for name, f in target.quantities(u).items():
        mean_f = float(weights @ f)
        dev2 = (f - mean_f) ** 2
        var = float(weights @ dev2)
        sd = np.sqrt(var)
        values[f"{name}.mean"], values[f"{name}.sd"] = mean_f, float(sd)
        errors[f"{name}.mean"] = float(np.sqrt(weights**2 @ dev2))
        errors[f"{name}.sd"] = float(np.sqrt(weights**2 @ (dev2 - var) ** 2) / (2 * sd))
    moments = Moments(values, errors, pareto_k=k, ess=float(1 / np.sum(weights**2)), draws=draws,
                      mode_masses=tuple(sorted(shares.tolist(), reverse=True)))
    lost = int(np.sum(weights == 0))
    if lost:
        moments.notes.append(f"{lost} of {draws} proposal draws had no finite density")
    return moments


def pilot(target: Target, mode: Mode, rng: np.random.Generator,
          ) -> tuple[np.ndarray, np.ndarray, float]:
    """A mode's proposal (location, shape) adapted by PILOT_DRAWS draws from a t at its
    Laplace approximation, and the log of its importance-sampling evidence."""
    u, weights, _, log_evidence = weighted_draws(target, [(mode.point, PILOT_SCALE * mode.cov)],
                                                np.ones(1), PILOT_DRAWS, rng)
    mean = weights @ u
    centred = u - mean
    adapted = ADAPTED_SCALE * (T_DF - 2) / T_DF * (centred * weights[:, None]).T @ centred
    try:
        np.linalg.cholesky(adapted)
    except np.linalg.LinAlgError:  # a degenerate pilot: keep the Laplace approximation
        mean, adapted = mode.point, PILOT_SCALE * mode.cov
    return mean, adapted, log_evidence


def weighted_draws(target: Target, components: list[tuple[np.ndarray, np.ndarray]],
                  shares: np.ndarray, draws: int, rng: np.random.Generator,
                  ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Draws from a mixture of multivariate t's (location, shape) in the given shares, their
    normalised Pareto-smoothed weights, Pareto k, and the log of the mean raw importance ratio
    (the evidence, up to the log density's constant)."""
    proposals = [stats.multivariate_t(loc=loc, shape=shape, df=T_DF, seed=rng)
                 for loc, shape in components]
    d = components[0][0].size
    counts = rng.multinomial(draws, shares) if len(components) > 1 else [draws]
    u = np.vstack([proposal.rvs(size=count).reshape(count, d)
                   for proposal, count in zip(proposals, counts) if count])
    log_q = special.logsumexp([np.log(share) + np.reshape(proposal.logpdf(u), draws)
                       for proposal, share in zip(proposals, shares)], axis=0)
    log_ratio = target.log_density(u) - log_q
    finite = np.isfinite(log_ratio)
    if not finite.any():
        raise ReferenceFailed("no proposal draw has a finite posterior density")
    # psislw takes log ratios negated (LOO's log-likelihoods: its ratios are 1 / p(y_i | theta))
    smoothed, k = arviz_stats_base.array_stats.psislw(np.where(finite, log_ratio[finite].max() - log_ratio, np.inf))
    weights = np.exp(smoothed - special.logsumexp(smoothed))
    log_evidence = float(special.logsumexp(log_ratio[finite]) - np.log(draws))
    return u, weights, float(k), log_evidence
