"""Posterior moments without MCMC, for models with no closed form: Pareto-smoothed importance
sampling from a multivariate t at the posterior mode.

A model gives its log posterior density on an unconstrained space R^d (Jacobians included),
written from its mathematics and vectorised over rows, independently of its PyMC model: a
reference computed from the PyMC model's own log density would share any fault of it. The
mode is found by BFGS and the curvature there by central differences (the Laplace
approximation). A pilot of ``PILOT_DRAWS`` draws from a multivariate t (``T_DF`` degrees of
freedom: heavier tails than a nearly Gaussian posterior, so the importance weights stay
bounded) at the Laplace approximation, its covariance widened ``PILOT_SCALE`` times, gives the
posterior's weighted mean and covariance; the final draws come from a t with that mean and
``ADAPTED_SCALE`` times that covariance. This one step of adaptive importance sampling matters
where the posterior is skewed (small data, overlapping components): the Laplace approximation
alone left Pareto k near the 0.7 limit there (``benchmarks/importance_proposal.py``). PSIS (Vehtari et al. 2024, ArviZ's ``psislw``) smooths the largest weights and reports
the Pareto k: below ``PARETO_K_MAX`` = 0.7 the self-normalised estimates converge at the usual
rate and their Monte Carlo errors, computed with the smoothed weights, can be trusted; above,
the caller must fall back on a weaker check and say so.

Monte Carlo errors of self-normalised importance sampling (Owen 2013, ch. 9), with normalised
weights w_i: the mean's is sqrt(sum w_i^2 (f_i - mean)^2); the sd's, by the delta method,
sqrt(sum w_i^2 ((f_i - mean)^2 - var)^2) / (2 sd).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from scipy.special import logsumexp
from scipy.stats import multivariate_t

from zoo.deferred import arviz_stats_base

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


class ReferenceFailed(ArithmeticError):
    """No trustworthy importance-sampling reference (no mode, no curvature, or k too large)."""


@dataclass(frozen=True)
class Target:
    """A log posterior on R^d and the quantities checked.

    ``log_density`` maps (m, d) points to (m,) log densities (up to a constant, Jacobians of the
    transforms included); ``quantities`` maps (m, d) points to named (m,) arrays; ``start`` is a
    point near the mode (an EM or MAP answer).
    """

    log_density: Callable[[np.ndarray], np.ndarray]
    quantities: Callable[[np.ndarray], dict[str, np.ndarray]]
    start: np.ndarray


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

    @property
    def trusted(self) -> bool:
        return bool(np.isfinite(self.pareto_k) and self.pareto_k <= PARETO_K_MAX)


def laplace(target: Target) -> tuple[np.ndarray, np.ndarray]:
    """The mode and the inverse of the negative Hessian there (the Laplace covariance)."""
    def negative(u: np.ndarray) -> float:
        return -float(target.log_density(u[None, :])[0])

    found = optimize.minimize(negative, np.asarray(target.start, float), method="BFGS",
                              options={"gtol": 1e-6, "maxiter": 2000})
    mode = found.x
    if not np.all(np.isfinite(mode)) or not np.isfinite(found.fun):
        raise ReferenceFailed(f"no finite posterior mode ({found.message})")
    hessian = numerical_hessian(target.log_density, mode)
    try:
        cov = np.linalg.inv(-hessian)
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ReferenceFailed("the log posterior is not concave at its mode") from None
    return mode, cov


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
    """Means and sds of every quantity by PSIS, from a t placed by a pilot at the Laplace
    approximation."""
    rng = np.random.default_rng(seed)
    mode, cov = laplace(target)
    u, weights, _ = weighted_draws(target, mode, PILOT_SCALE * cov, PILOT_DRAWS, rng)
    mean = weights @ u
    centred = u - mean
    adapted = ADAPTED_SCALE * (T_DF - 2) / T_DF * (centred * weights[:, None]).T @ centred
    try:
        np.linalg.cholesky(adapted)
    except np.linalg.LinAlgError:  # a degenerate pilot: keep the Laplace approximation
        mean, adapted = mode, PILOT_SCALE * cov
    u, weights, k = weighted_draws(target, mean, adapted, draws, rng)
    values, errors = {}, {}
    for name, f in target.quantities(u).items():
        mean_f = float(weights @ f)
        dev2 = (f - mean_f) ** 2
        var = float(weights @ dev2)
        sd = np.sqrt(var)
        values[f"{name}.mean"], values[f"{name}.sd"] = mean_f, float(sd)
        errors[f"{name}.mean"] = float(np.sqrt(weights**2 @ dev2))
        errors[f"{name}.sd"] = float(np.sqrt(weights**2 @ (dev2 - var) ** 2) / (2 * sd))
    moments = Moments(values, errors, pareto_k=k, ess=float(1 / np.sum(weights**2)), draws=draws)
    lost = int(np.sum(weights == 0))
    if lost:
        moments.notes.append(f"{lost} of {draws} proposal draws had no finite density")
    return moments


def weighted_draws(target: Target, loc: np.ndarray, shape: np.ndarray, draws: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Draws from a multivariate t, their normalised Pareto-smoothed weights, and Pareto k."""
    proposal = multivariate_t(loc=loc, shape=shape, df=T_DF, seed=rng)
    u = proposal.rvs(size=draws).reshape(draws, loc.size)
    log_ratio = target.log_density(u) - proposal.logpdf(u)
    finite = np.isfinite(log_ratio)
    if not finite.any():
        raise ReferenceFailed("no proposal draw has a finite posterior density")
    # psislw takes log ratios negated (LOO's log-likelihoods: its ratios are 1 / p(y_i | theta))
    smoothed, k = arviz_stats_base.array_stats.psislw(np.where(finite, log_ratio[finite].max() - log_ratio, np.inf))
    weights = np.exp(smoothed - logsumexp(smoothed))
    return u, weights, float(k)
