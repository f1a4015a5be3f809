"""Exact answers that several models share: beta-binomial evidence, 1-D quadrature and the
lecture's grid."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoo.core.deferred import integrate, optimize, special


def beta_from_mode(omega, kappa):
    """Beta shape parameters with mode ``omega`` and concentration ``kappa`` (Kruschke's form):
    a = omega (kappa - 2) + 1, b = (1 - omega)(kappa - 2) + 1."""
    return omega * (kappa - 2) + 1, (1 - omega) * (kappa - 2) + 1


def lecture_grid(size: int) -> np.ndarray:
    """The lecture's grid on (0, 1): i/(n+1) for i = 1..n, never touching 0 or 1."""
    return np.arange(1, size + 1) / (size + 1)


def heads_tails(flips) -> tuple[int, int]:
    """Counts of 1s and 0s in a sequence of flips."""
    heads = int(np.sum(flips))
    return heads, len(flips) - heads


def log_evidence_bernoulli(heads, tails, a, b):
    """log p(sequence of flips) under theta ~ Beta(a, b): B(a + heads, b + tails) / B(a, b).

    This is the evidence of the ordered Bernoulli sequence; the binomial count's evidence adds
    log C(n, heads).
    """
    return special.betaln(a + heads, b + tails) - special.betaln(a, b)


def beta_mean_sd(a, b):
    """Mean and sd of Beta(a, b)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    mean = a / (a + b)
    return mean, np.sqrt(mean * (1 - mean) / (a + b + 1))


def quadrature_moments(
    log_density: Callable[[float], float], lower: float, upper: float, breaks: tuple = ()
) -> tuple[float, float, float]:
    """log of the integral of exp(log_density) over [lower, upper], and the mean and sd of the
    normalised density, by adaptive quadrature to ~1e-10 relative error.

    The density is scaled by its maximum first so that sharp, tiny likelihoods do not underflow.
    """
    peak = optimize.minimize_scalar(lambda x: -log_density(x), bounds=(lower, upper),
                                    method="bounded", options={"xatol": 1e-12})
    shift = -peak.fun
    points = sorted({*breaks, float(peak.x)} - {lower, upper})

    def moment(power: int) -> float:
        value, _ = integrate.quad(lambda x: x**power * np.exp(log_density(x) - shift), lower, upper,
                                  points=points or None, epsabs=0, epsrel=1e-11, limit=500)
        return value

    mass, first, second = moment(0), moment(1), moment(2)
    mean = first / mass
    return float(np.log(mass) + shift), float(mean), float(np.sqrt(max(second / mass - mean**2, 0.0)))
