"""Gaussian mixture, full Bayes (lecture 000, "Gaussian Mixture Model" to "Compared to
supervised classification and k-means").

    mu      ~ Normal(m, s), ordered mu_0 < ... < mu_{K-1}   default m = mean x, s = 2 sd x
    sigma_k ~ HalfNormal(t)                                 default t = 2 sd x
    w       ~ Dirichlet(a, ..., a)                          default a = 2
    x_i     ~ sum_k w_k Normal(mu_k, sigma_k)               the labels z_i marginalised

Default data: the lecture's generative story, ``data/gmm_lecture.csv`` (data/README.md).

Reference: the posterior itself by Pareto-smoothed importance sampling
(``zoo.numerics.importance``) on ``mixture_log_posterior``, written from the formulas above,
not taken from the PyMC model, so that a fault in the PyMC model cannot reach it. Several
modes are covered (one t per mode, searched from every optimum of ``likelihood_optima``) or
refused (``Reference.refusal``: CANNOT VERIFY, never PASS); with one mode and Pareto k > 0.7
the checks fall back on EM's optimum, a weaker check of the means only, and say so.

Chains start dispersed around the EM optima, not at PyMC's jittered point (``init=jitter``),
where a chain can sit in a wrong mode for the whole run. SBC (``MixtureCalibration``) has a
proper prior of its own that keeps the components apart. The reasons, and the measurements
behind them: docs/models.md, "gmm: design notes".
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core import parsers
from zoo.core.calibration import Calibration
from zoo.core.data import Column, read_csv, write_example_command
from zoo.core.deferred import az, pd, pm, pt, special, stats, xr
from zoo.core.diagnostics import STUCK_SDS, scalar_draws
from zoo.core.errors import DataError
from zoo.core.faults import DropLast, Fault, OFF, SharedHelperFault, Tempered, add_delta, observed
from zoo.core.model import DATA_DIR, Setting, ZooModel
from zoo.core.posteriordb_code import PosteriordbCode
from zoo.core.results import Reference
from zoo.core.sampling import sampling_time
from zoo.numerics.em import (
    MixtureFit,
    MixturePrior,
    fit_gmm,
    fit_kmeans,
    fit_map_gmm,
    gmm_loglik,
)
from zoo.numerics.importance import (PARETO_K_MAX, Moments, ReferenceFailed, Target,
                                     posterior_moments)
from zoo.report.figures import new_figure, save

LECTURE_MEANS = (2.0, 5.0, 10.0)
LECTURE_SDS = (0.6, 0.8, 0.5)
LECTURE_WEIGHTS = (0.4, 0.2, 0.4)
LECTURE_N = 10_000
LECTURE_SEED = 20140414
LECTURE_CSV = DATA_DIR / "gmm_lecture.csv"

#: the fallback's checks allow |posterior mean - MLE| up to 4 sqrt(mcse^2 + (c se)^2), about
#: one posterior sd: the weaker check used only when importance sampling cannot be trusted
EM_FALLBACK_SD_FRACTION = 0.25
#: importance draws of the reference (ESS ~0.6 of them on the default data): its Monte Carlo
#: error is then at most about a third of NUTS's MCSE at the default 4 x 600 draws (bulk ESS
#: ~2,400), so its own error cannot move a verdict; 8,000 left it at up to 0.85 of the MCSE
#: and seed 0 put sigma[2].mean near z = +2 in every run (issue 25)
REFERENCE_DRAWS = 60_000
#: the reference's own seed: it does not depend on the sampler's
REFERENCE_SEED = 0
#: data values times draws held in memory at once by ``mixture_log_likelihood``: small enough
#: for the CPU's caches (2,000,000 took 3x as long; benchmarks/gmm_reference_time.py)
CHUNK_VALUES = 100_000
#: chunks of the reference's log likelihood computed at once: the CPUs this process may use
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
#: EM starts are spread uniformly over +- this many standard errors around the optimum
START_SPREAD_SES = 2.0
EM_RESTARTS = 10
#: two EM optima whose means, sds (in data sds) and weights all agree this closely are one
SAME_OPTIMUM = 1e-2
#: a mode with at least this share of the posterior mass (by importance sampling), or an EM
#: optimum with at least this likelihood ratio to the best, is of comparable mass: a
#: reference must cover it, and the chains start dispersed over them
COMPARABLE_SHARE = 0.05
#: EM optima further than this below the best are not searched for posterior modes (their
#: mass is under e^-50 of the best's unless the prior is far stronger than the data)
MODE_SEARCH_NATS = 50.0
#: observations per simulated data set in ``zoo sbc gmm``; the fits then take ~1 s
SBC_N = 200
#: SBC's proper, separating prior (why: docs/models.md, gmm's design notes):
#: mu_k ~ Normal(2 + 4 k, 0.5) ordered, sigma_k ~ LogNormal(log 0.5, 0.35), w ~ Dirichlet(5, ..., 5)
SBC_FIRST_CENTRE, SBC_GAP = 2.0, 4.0
SBC_MU_SD = SBC_SIGMA_SCALE = SBC_GAP / 8
SBC_SIGMA_LOG_SD = 0.35
SBC_ALPHA = 5.0
#: posterior draws averaged into NUTS's mixture density in the report's histogram
DENSITY_DRAWS = 200


# --- settings -----------------------------------------------------------------------------------


def _numbers(text: str, kind: str, count: int, example: str) -> tuple[float, ...]:
    name, _, params = text.partition(":")
    if name != kind:
        raise ValueError(f"expected auto or {example}")
    try:
        return parsers.numbers(params, count, example)
    except ValueError:
        raise ValueError(f"expected auto or {example}") from None


def parse_mu_prior(text: str) -> tuple[float, float] | None:
    """'auto' (None) or 'normal:M,S'."""
    if text == "auto":
        return None
    mean, sd = _numbers(text, "normal", 2, "normal:M,S, e.g. normal:0,10")
    if sd <= 0:
        raise ValueError("the prior sd S must be positive")
    return mean, sd


def parse_sigma_prior(text: str) -> float | None:
    """'auto' (None) or 'halfnormal:S'."""
    if text == "auto":
        return None
    (scale,) = _numbers(text, "halfnormal", 1, "halfnormal:S, e.g. halfnormal:2")
    if scale <= 0:
        raise ValueError("the scale S must be positive")
    return scale


def parse_w_prior(text: str) -> float:
    """'dirichlet:A', the same concentration A for every component."""
    (alpha,) = _numbers(text, "dirichlet", 1, "dirichlet:A, e.g. dirichlet:1")
    if alpha <= 0:
        raise ValueError("the concentration A must be positive")
    return alpha


def parse_column(text: str) -> str:
    if not text:
        raise ValueError("expected a column name")
    return text


@dataclass(frozen=True)
class Priors:
    """mu_mean is one prior mean for every component, or one per component (SBC's); sigma_k ~
    HalfNormal(sigma_scale), or LogNormal(log sigma_scale, sigma_log_sd) when that is set (SBC's:
    no component sd near 0)."""

    mu_mean: float | tuple[float, ...]
    mu_sd: float
    sigma_scale: float
    alpha: float
    sigma_log_sd: float | None = None


def resolve_priors(x: np.ndarray, settings: dict[str, Any]) -> Priors:
    """The settings' priors, with 'auto' on the data's scale (the module docstring's defaults)."""
    spread = float(np.std(x, ddof=1))
    mu_mean, mu_sd = settings["mu_prior"] or (float(np.mean(x)), 2.0 * spread)
    sigma_scale = settings["sigma_prior"] or 2.0 * spread
    return Priors(mu_mean, mu_sd, sigma_scale, settings["w_prior"])


@dataclass(frozen=True)
class Units:
    """x = centre + scale z. The reference's numerics (the mode search, importance sampling,
    EM's standard errors; EM standardises on its own) run on the standardised z, where every
    quantity is of order one whatever the data's units (at 1e10 the curvature at the mode was
    not positive definite in floating point), and their answers are mapped back. The map is linear, so the posterior of
    (mu, sigma) under priors mapped alike is the same posterior in other units; its Jacobian
    is a constant of the log density, which moves neither modes nor importance weights."""

    centre: float
    scale: float

    @classmethod
    def of(cls, x: np.ndarray) -> Units:
        """The data's mean and sd; DataError where their spread overflows floating point."""
        with np.errstate(over="ignore", invalid="ignore"):
            centre, scale = float(np.mean(x)), float(np.std(x, ddof=1))
        if not (math.isfinite(centre) and math.isfinite(scale) and scale > 0):
            raise DataError(f"x's spread is {scale:g}: the values (up to {np.max(np.abs(x)):g}) "
                            "overflow floating point; rescale the data")
        return cls(centre, scale)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        return (x - self.centre) / self.scale

    def priors(self, priors: Priors) -> Priors:
        """The same priors on the standardised scale (a half-normal or log-normal sd's scale
        divides by ``scale``; the weights' prior has no units)."""
        mu_mean = (np.asarray(priors.mu_mean, float) - self.centre) / self.scale
        return replace(priors, mu_mean=tuple(mu_mean) if mu_mean.ndim else float(mu_mean),
                       mu_sd=priors.mu_sd / self.scale,
                       sigma_scale=priors.sigma_scale / self.scale)


# --- numerics -----------------------------------------------------------------------------------


def simulate_mixture(means, sds, weights, n: int, seed: int) -> np.ndarray:
    """The generative story: z_i ~ Categorical(w), x_i ~ Normal(mu_z, sigma_z)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(weights), p=weights, size=n)
    return rng.normal(np.take(means, labels), np.take(sds, labels))


def simulate_lecture_mixture(n: int = LECTURE_N, seed: int = LECTURE_SEED) -> np.ndarray:
    """The lecture's story (the default data)."""
    return simulate_mixture(LECTURE_MEANS, LECTURE_SDS, LECTURE_WEIGHTS, n, seed)


def write_lecture_csv(path: Path = LECTURE_CSV) -> None:
    """Write the default data (17 significant digits: the CSV round-trips the floats)."""
    pd.DataFrame({"x": simulate_lecture_mixture()}).to_csv(path, index=False, float_format="%.17g")


def responsibilities(x: np.ndarray, weights, means, sds) -> np.ndarray:
    """p(z_i = k | x_i), shaped (n, K)."""
    z = (x[:, None] - means) / sds
    return np.exp(special.log_softmax(np.log(weights) - np.log(sds) - 0.5 * z**2, axis=1))


def mixture_standard_errors(x: np.ndarray, fit: MixtureFit) -> dict[str, float]:
    """Asymptotic standard errors of the 1-D MLE: the inverse observed information, estimated by
    the outer product of per-point scores (free weights w_0..w_{K-2}; w_{K-1} = 1 - their sum),
    computed on the standardised data (``Units``: the information matrix of data in other units
    is badly scaled) and mapped back."""
    units = Units.of(x)
    z = units.standardise(x)
    w, mu, s = fit.weights, units.standardise(fit.means), fit.sds / units.scale
    k = w.size
    r = responsibilities(z, w, mu, s)
    dev = z[:, None] - mu
    scores = np.hstack([
        r * dev / s**2,
        r * (dev**2 / s**3 - 1.0 / s),
        r[:, :-1] / w[:-1] - r[:, -1:] / w[-1],
    ])
    cov = np.linalg.inv(scores.T @ scores)
    w_cov = cov[2 * k:, 2 * k:]
    w_var = np.append(np.diag(w_cov), w_cov.sum())
    variances = np.concatenate([units.scale**2 * np.diag(cov)[: 2 * k], w_var])
    names = [f"{v}[{j}]" for v in ("mu", "sigma", "w") for j in range(k)]
    return dict(zip(names, np.sqrt(variances).tolist()))


def mixture_values(fit: MixtureFit, suffix: str = "") -> dict[str, float]:
    """A fit's mu[k], sigma[k], w[k] (check names when ``suffix`` is '.mean')."""
    values = {}
    for name, array in (("mu", fit.means), ("sigma", fit.sds), ("w", fit.weights)):
        values.update({f"{name}[{j}]{suffix}": float(v) for j, v in enumerate(array)})
    return values


def em_method(fit: MixtureFit) -> dict[str, float]:
    return {**mixture_values(fit), "loglik": fit.loglik, "iterations": float(fit.n_iter)}


def kmeans_method(fit: MixtureFit) -> dict[str, float]:
    """k-means has equal fixed weights and one shared sigma: report means, sigma, fit."""
    return {**{f"mu[{j}]": float(m) for j, m in enumerate(fit.means)},
            "sigma (shared)": float(fit.sds[0]), "loglik": fit.loglik,
            "iterations": float(fit.n_iter)}


def dispersed_starts(fit: MixtureFit, se: dict[str, float], chains: int,
                     seed: int) -> list[dict[str, np.ndarray]]:
    """Per-chain initial values: the EM optimum moved uniformly within +- START_SPREAD_SES
    standard errors, kept valid (means increasing, sds and weights positive)."""
    rng = np.random.default_rng(seed)
    k = fit.weights.size

    def spread(name: str) -> np.ndarray:
        ses = np.array([se[f"{name}[{j}]"] for j in range(k)])
        return rng.uniform(-START_SPREAD_SES, START_SPREAD_SES, k) * ses

    starts = []
    for _ in range(chains):
        mu = np.sort(fit.means + spread("mu"))
        sigma = fit.sds * np.exp(spread("sigma") / fit.sds)
        w = np.clip(fit.weights + spread("w"), 1e-6, None)
        starts.append({"mu": mu, "sigma": sigma, "w": w / w.sum()})
    return starts


def em_starts(x: np.ndarray, em: MixtureFit):
    """A chain's start from its seed: the EM optimum ``em`` dispersed as in :func:`dispersed_starts`,
    each standard error capped at a quarter of its component's sd (mu, sigma) or weight (w):
    on small or overlapping data the asymptotic errors can be useless (a near-empty
    component's run to 1e13), and the start must stay a valid, finite point."""
    try:
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN errors are capped below
            se = mixture_standard_errors(x, em)
    except np.linalg.LinAlgError:
        se = {}
    scale = {**mixture_values(em), **{f"mu[{j}]": s for j, s in enumerate(em.sds)}}
    capped = {name: float(np.fmin(se.get(name, np.inf), 0.25 * scale[name])) for name in scale}
    return lambda seed: dispersed_starts(em, capped, 1, seed)[0]


def mode_starts(x: np.ndarray, optima: tuple[MixtureFit, ...]):
    """A chain's start from its seed: around the optimum numbered seed mod their number,
    dispersed as in :func:`em_starts`. With several modes, chains then start in different
    ones (seeds are random: 4 chains miss one of 2 modes 1 time in 8), so that R-hat and the
    stuck-chain check see a posterior the chains cannot cross."""
    per_optimum = [em_starts(x, fit) for fit in optima]
    return lambda seed: per_optimum[seed % len(per_optimum)](seed)


def chains_off_reference(idata: xr.DataTree, reference: dict[str, float]) -> dict[int, str]:
    """Chains whose mean of some parameter is over STUCK_SDS within-chain sds (the median
    over chains, as in ``zoo.core.diagnostics``: a stuck chain inflates the pooled sd) from the
    reference."""
    off: dict[int, str] = {}
    for name, draws in scalar_draws(idata, ["mu", "sigma", "w"]).items():
        if name not in reference:
            continue
        sd = float(np.median(draws.std(axis=1, ddof=1)))
        for chain, mean in enumerate(draws.mean(axis=1)):
            if sd > 0 and abs(mean - reference[name]) > STUCK_SDS * sd and chain not in off:
                off[chain] = f"{name} {mean:.4g} vs EM {reference[name]:.4g}"
    return off


def posterior_alternatives(idata: xr.DataTree, x: np.ndarray) -> dict[str, float]:
    """Posterior means and sds, the log-likelihood at the posterior means, and NUTS's speed
    (bulk ESS per second of sampling, compiling excluded)."""
    draws = scalar_draws(idata, ["mu", "sigma", "w"])
    values = {name: float(d.mean()) for name, d in draws.items()}
    values.update({f"{name}.sd": float(d.std(ddof=1)) for name, d in draws.items()})
    k = idata.posterior["mu"].shape[-1]
    mean_of = lambda v: np.array([values[f"{v}[{j}]"] for j in range(k)])  # noqa: E731
    weights = mean_of("w")
    values["loglik"] = gmm_loglik(x, weights / weights.sum(), mean_of("mu"), mean_of("sigma") ** 2)
    ess = min(float(az.ess(d, method="bulk")) for d in draws.values())
    seconds = sampling_time(idata)
    values.update({"sampling_seconds": seconds, "min_ess_bulk": ess,
                   "min_ess_bulk_per_second": ess / seconds if seconds > 0 else math.nan})
    return values


def hard_and_map_fits(x: np.ndarray, k: int, priors: Priors) -> dict[str, MixtureFit]:
    """k-means (hard EM) and MAP-EM, each from EM_RESTARTS k-means++ starts (seed 0)."""
    return {
        "kmeans": fit_kmeans(x, k, restarts=EM_RESTARTS),
        "map_em": fit_map_gmm(x, k, MixturePrior(alpha=max(priors.alpha, 1.0)),
                              restarts=EM_RESTARTS),
    }


def likelihood_optima(x: np.ndarray, k: int) -> tuple[MixtureFit, ...]:
    """The distinct local maxima of the likelihood that EM reaches, best first: EM from
    EM_RESTARTS k-means++ seeds and from the reflection x -> 2 mean(x) - x of each optimum so
    found (the means' order reversed, so that it is again ordered). On data symmetric about
    their mean the reflection of a mode is a mode of equal likelihood, which random seeds may
    never reach. The reference computes them once and hands them to the fit
    (``Reference.workings["optima"]``): the chains start around them."""
    x = np.asarray(x, float)
    units = Units.of(x)
    found: list[MixtureFit] = []
    why = ""
    for seed in range(EM_RESTARTS):
        why = _add_optimum(found, x, k, units.scale, restarts=1, seed=seed) or why
    for fit in list(found):
        reflected = (fit.weights[::-1], 2 * units.centre - fit.means[::-1], fit.covariances[::-1])
        _add_optimum(found, x, k, units.scale, init=reflected)
    if not found:
        raise DataError(f"EM finds no {k}-component maximum-likelihood fit ({why}); "
                        "try fewer components")
    return tuple(sorted(found, key=lambda fit: -fit.loglik))


def _add_optimum(found: list[MixtureFit], x: np.ndarray, k: int, spread: float,
                 **options) -> str:
    """EM on x with ``options``, its optimum added to ``found`` unless one there is the same
    (every mean and sd within SAME_OPTIMUM data sds, every weight within SAME_OPTIMUM); why EM
    failed, or ''."""
    try:
        fit = fit_gmm(x, k, **options)
    except (ArithmeticError, ValueError) as err:
        return str(err)
    if not any(max(np.abs(fit.means - other.means).max() / spread,
                   np.abs(fit.sds - other.sds).max() / spread,
                   np.abs(fit.weights - other.weights).max()) < SAME_OPTIMUM for other in found):
        found.append(fit)
    return ""


# --- the posterior reference: importance sampling ------------------------------------------------


def to_unconstrained(weights, means, sds) -> np.ndarray:
    """(mu_0, log gaps of the sorted means, log sigma, log w_k - log w_{K-1}): the point of R^(3K-1)
    where ``mixture_log_posterior`` is evaluated."""
    order = np.argsort(means)
    means, sds, weights = (np.asarray(v, float)[order] for v in (means, sds, weights))
    log_w = np.log(np.clip(weights, 1e-12, None))
    return np.concatenate([means[:1], np.log(np.diff(means)), np.log(sds),
                           log_w[:-1] - log_w[-1]])


def from_unconstrained(u: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of unconstrained points -> (mu, log sigma, log w), each (m, K)."""
    gaps = np.exp(u[:, 1:k])
    mu = u[:, :1] + np.concatenate([np.zeros((len(u), 1)), np.cumsum(gaps, axis=1)], axis=1)
    log_w = special.log_softmax(np.concatenate([u[:, 2 * k:], np.zeros((len(u), 1))], axis=1), axis=1)
    return mu, u[:, k:2 * k], log_w


def mixture_log_likelihood(x: np.ndarray, mu: np.ndarray, log_sigma: np.ndarray,
                           log_w: np.ndarray) -> np.ndarray:
    """sum_i log sum_k w_k Normal(x_i | mu_k, sigma_k) for each row of (m, K) parameters, in
    chunks of CHUNK_VALUES (a log-sum-exp over components written out: ~5x scipy's on K = 3),
    THREADS chunks at a time (numpy lets go of the GIL in its loops; the same numbers
    whatever the threads)."""
    m, k = mu.shape
    rows = max(1, CHUNK_VALUES // x.size)
    inverse_sd, log_scale = np.exp(-log_sigma), log_w - log_sigma

    def chunk(begin: int) -> np.ndarray:
        part = slice(begin, begin + rows)
        terms = []
        for j in range(k):
            term = (x[None, :] - mu[part, j, None]) * inverse_sd[part, j, None]
            terms.append(log_scale[part, j, None] - 0.5 * term * term)
        top = np.maximum.reduce(terms)
        total = sum(np.exp(term - top) for term in terms)
        return (np.log(total) + top).sum(axis=1)

    begins = range(0, m, rows)
    if len(begins) == 1:  # one chunk: no pool
        out = chunk(0)
    else:
        with ThreadPoolExecutor(THREADS) as pool:
            out = np.concatenate(list(pool.map(chunk, begins)))
    return out - 0.5 * x.size * np.log(2 * np.pi)


def mixture_log_posterior(x: np.ndarray, k: int, priors: Priors):
    """The model's log posterior on the unconstrained space, up to a constant: the priors and
    likelihood of the module's docstring plus each transform's log Jacobian (sum of log gaps,
    sum of log sigma, and sum_k log w_k for the additive log-ratio)."""
    mu_mean = np.asarray(priors.mu_mean, float)

    def log_density(u: np.ndarray) -> np.ndarray:
        mu, log_sigma, log_w = from_unconstrained(u, k)
        sigma = np.exp(log_sigma)
        if priors.sigma_log_sd is None:
            sigma_prior = -0.5 * (sigma / priors.sigma_scale) ** 2
        else:
            log_ratio = (log_sigma - np.log(priors.sigma_scale)) / priors.sigma_log_sd
            sigma_prior = -0.5 * log_ratio**2 - log_sigma
        log_prior = (-0.5 * (((mu - mu_mean) / priors.mu_sd) ** 2).sum(axis=1)
                     + sigma_prior.sum(axis=1) + (priors.alpha - 1) * log_w.sum(axis=1))
        jacobian = u[:, 1:k].sum(axis=1) + log_sigma.sum(axis=1) + log_w.sum(axis=1)
        value = mixture_log_likelihood(x, mu, log_sigma, log_w) + log_prior + jacobian
        return np.where(np.isfinite(value), value, -np.inf)

    return log_density


def mixture_target(x: np.ndarray, k: int, priors: Priors,
                   optima: tuple[MixtureFit, ...]) -> Target:
    """The importance sampler's target on the standardised data (``Units``): the log posterior
    under the priors mapped alike, the mode search started from each EM optimum within
    MODE_SEARCH_NATS of the best, and mu, sigma, w by name, mapped back to the data's units
    (so the moments and their errors come out in them)."""
    units = Units.of(x)

    def quantities(u: np.ndarray) -> dict[str, np.ndarray]:
        mu, log_sigma, log_w = from_unconstrained(u, k)
        named = {"mu": units.centre + units.scale * mu, "sigma": units.scale * np.exp(log_sigma),
                 "w": np.exp(log_w)}
        return {f"{v}[{j}]": named[v][:, j] for v in ("mu", "sigma", "w") for j in range(k)}

    starts = [to_unconstrained(fit.weights, units.standardise(fit.means), fit.sds / units.scale)
              for fit in optima if fit.loglik >= optima[0].loglik - MODE_SEARCH_NATS]
    log_density = mixture_log_posterior(units.standardise(x), k, units.priors(priors))
    return Target(log_density, quantities, starts[0], tuple(starts[1:]))


def em_distances(em: MixtureFit, moments: Moments) -> dict[str, float]:
    """How far EM's optimum sits from the posterior mean, in posterior sds, per parameter."""
    return {name: (value - moments.values[f"{name}.mean"]) / moments.values[f"{name}.sd"]
            for name, value in mixture_values(em).items()}


def em_fallback(x: np.ndarray, em: MixtureFit, why: str) -> tuple[dict, dict, list[str]]:
    """The weaker check when importance sampling cannot be trusted: posterior means against EM's
    optimum, each with EM_FALLBACK_SD_FRACTION x the MLE's standard error as reference error;
    refused (exit 2, before sampling) when EM did not converge either."""
    if not em.converged:
        raise DataError(f"gmm: no trustworthy reference for these data: {why}, and EM did not "
                        f"converge in {em.max_iter} iterations; try fewer components")
    try:
        se = mixture_standard_errors(x, em)
    except np.linalg.LinAlgError:
        raise DataError(f"gmm: no trustworthy reference for these data: {why}, and EM's "
                        "standard errors are undefined; try fewer components") from None
    errors = {f"{name}.mean": EM_FALLBACK_SD_FRACTION * s for name, s in se.items()}
    notes = [f"WEAKER CHECK: {why}; the posterior means are checked against EM's "
             f"maximum-likelihood optimum instead, each with {EM_FALLBACK_SD_FRACTION} x its "
             "standard error as reference error (about one posterior sd passes); sds unchecked"]
    return mixture_values(em, ".mean"), errors, notes


def comparable_optima(optima: tuple[MixtureFit, ...]) -> tuple[MixtureFit, ...]:
    """The EM optima whose likelihood is over COMPARABLE_SHARE of the best's: the modes a
    single-mode answer would misrepresent."""
    floor = optima[0].loglik + math.log(COMPARABLE_SHARE)
    return tuple(fit for fit in optima if fit.loglik >= floor)


def several_modes(optima: tuple[MixtureFit, ...], moments: Moments | None, why: str) -> str | None:
    """Why no reference can be given (``why`` importance sampling is not trusted) when the
    posterior has several modes of comparable mass, or EM several optima of comparable
    likelihood (several modes or a flat ridge); None when there is one, which EM's optimum
    may then stand for."""
    modes = sum(share >= COMPARABLE_SHARE for share in (moments.mode_masses if moments else ()))
    if modes > 1:
        return f"cannot verify: {modes} posterior modes of comparable mass, and {why}"
    comparable = len(comparable_optima(optima))
    if comparable > 1:
        return (f"cannot verify: EM reaches {comparable} distinct optima of comparable "
                f"likelihood (several modes or a flat ridge), and {why}")
    return None


def reference_note(moments: Moments, seed: int) -> str:
    """What the importance-sampling reference is: its draws and seed, Pareto k, ESS, and its
    modes."""
    note = (f"reference: PSIS from a multivariate t at each posterior mode found, "
            f"{moments.draws} draws (seed {seed}), Pareto k {moments.pareto_k:.2f}, ESS {moments.ess:.0f}")
    if len(moments.mode_masses) == 1:
        return note + ", one mode"
    shares = ", ".join(f"{share:.3g}" for share in moments.mode_masses)
    return (note + f"; it covers {len(moments.mode_masses)} modes of posterior mass {shares}: "
            "chains that each stay in one mode cannot match it")


def classical_alternatives(x: np.ndarray, k: int, priors: Priors,
                           em: MixtureFit) -> tuple[dict[str, dict[str, float]], list[str]]:
    """EM (when it converged) and its standard errors, k-means and MAP-EM, and notes on what
    is left out; none of them can stop the run."""
    alternatives: dict[str, dict[str, float]] = {}
    notes = ["map_em uses the EM library's conjugate default prior, not the model's"]
    if em.converged:
        alternatives["em"] = em_method(em)
        try:
            alternatives["em_se"] = mixture_standard_errors(x, em)
        except np.linalg.LinAlgError:
            notes.append("EM's standard errors: the observed information is singular")
    else:
        notes.append(f"EM did not converge in {em.max_iter} iterations: its answer is not "
                     "shown (its optimum still starts the chains and the mode search)")
    try:
        fits = hard_and_map_fits(x, k, priors)
    except (ArithmeticError, ValueError) as err:
        notes.append(f"k-means and MAP-EM left out: {err}")
        return alternatives, notes
    return {**alternatives, "kmeans": kmeans_method(fits["kmeans"]),
            "map_em": em_method(fits["map_em"])}, notes


# --- the PyMC model -----------------------------------------------------------------------------


def priors_note(priors: Priors) -> str:
    """The priors' numbers as this run resolved them ('auto' ones on the data's scale)."""
    means = ", ".join(f"{m:.4g}" for m in np.atleast_1d(priors.mu_mean))
    return (f"priors: mu_k ~ Normal({means}, {priors.mu_sd:.4g}) ordered, sigma_k ~ "
            f"HalfNormal({priors.sigma_scale:.4g}), w ~ Dirichlet({priors.alpha:g})")


def posterior_reference(x: np.ndarray, k: int, priors: Priors, optima: tuple[MixtureFit, ...],
                        seed: int) -> Reference:
    """:meth:`GaussianMixture.reference` from EM's ``optima``: importance sampling over every
    mode, else EM or a refusal."""
    em = optima[0]
    alternatives, notes = classical_alternatives(x, k, priors, em)
    try:
        moments = posterior_moments(mixture_target(x, k, priors, optima), REFERENCE_DRAWS,
                                    seed)
    except (ReferenceFailed, np.linalg.LinAlgError) as err:
        why = f"importance sampling failed ({err})"
        if refusal := several_modes(optima, None, why):
            raise DataError(f"gmm: {refusal}") from None
        values, errors, fallback = em_fallback(x, em, why)
        return Reference("em", values, errors, alternatives, notes + fallback,
                         kind="EM fallback")
    alternatives["psis"] = {**moments.values, "pareto_k": moments.pareto_k, "ess": moments.ess,
                            "draws": float(moments.draws), "modes": len(moments.mode_masses)}
    if not moments.trusted:
        why = f"importance sampling's Pareto k is {moments.pareto_k:.2f} > {PARETO_K_MAX}"
        if refusal := several_modes(optima, moments, why):
            return Reference("psis", moments.values, moments.errors, alternatives,
                             notes + moments.notes, refusal=refusal,
                             kind="importance sampling")
        values, errors, fallback = em_fallback(x, em, why)
        return Reference("em", values, errors, alternatives, notes + fallback,
                         kind="EM fallback")
    if "em" in alternatives:
        alternatives["em_minus_posterior_in_sds"] = em_distances(em, moments)
    notes.insert(0, reference_note(moments, seed))
    return Reference("psis", moments.values, moments.errors, alternatives,
                     notes + moments.notes, kind="importance sampling")


def mixture_model(x: np.ndarray, k: int, priors: Priors, start_means: np.ndarray) -> pm.Model:
    """The mixture with the labels marginalised. The means' default start is ``start_means``
    (increasing: the ``ordered`` transform needs distinct means), given as the prior's support
    point rather than an initial value, which PyMC's ``observe`` (used by SBC) refuses."""
    def normal(mean, sd, size):
        return pm.Normal.dist(mean, sd, size=size)

    def start(rv, size, mean, sd):
        return pt.as_tensor(np.asarray(start_means, dtype=float))

    with pm.Model(coords={"component": np.arange(k)}) as model:
        # data, not constants: 'auto' priors follow the data, and a model compiled once then
        # serves other data of any size (zoo.core.compile_cache), in a session and on disk
        mu_mean = pm.Data("mu_prior_mean", np.asarray(priors.mu_mean, dtype=float))
        mu_sd = pm.Data("mu_prior_sd", float(priors.mu_sd))
        sigma_scale = pm.Data("sigma_prior_scale", float(priors.sigma_scale))
        mu = pm.CustomDist("mu", mu_mean, mu_sd, dist=normal, support_point=start,
                           transform=pm.distributions.transforms.ordered, dims="component")
        if priors.sigma_log_sd is None:
            sigma = pm.HalfNormal("sigma", sigma_scale, dims="component")
        else:
            sigma = pm.LogNormal("sigma", pt.log(sigma_scale), priors.sigma_log_sd,
                                 dims="component")
        w = pm.Dirichlet("w", a=np.full(k, priors.alpha), dims="component")
        pm.NormalMixture("x", w=w, mu=mu, sigma=sigma, observed=x)
    return model


def ordered_normal_draw(mean, sd: float, k: int, rng: np.random.Generator) -> np.ndarray:
    """Means from the ``ordered`` prior, prod_k Normal(mu_k | mean_k, sd) restricted to
    mu_0 < ... < mu_{K-1}, by rejection (forward sampling in PyMC ignores the transform).
    Exact for per-component means too, where sorting iid draws would not be."""
    while True:
        mu = rng.normal(mean, sd, k)
        if np.all(np.diff(mu) > 0):
            return mu


def sigma_prior_draw(priors: Priors, k: int, rng: np.random.Generator) -> np.ndarray:
    """K component sds from the prior (HalfNormal, or LogNormal when ``sigma_log_sd`` is set)."""
    if priors.sigma_log_sd is None:
        return np.abs(rng.normal(0.0, priors.sigma_scale, k))
    return priors.sigma_scale * np.exp(rng.normal(0.0, priors.sigma_log_sd, k))


def simulate_from_prior(priors: Priors, k: int, n: int,
                        rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The generative story in numpy: ordered means, (sigma_k, w_k) per component, then
    labels and x. Returns the parameters and x."""
    truth = {"mu": ordered_normal_draw(priors.mu_mean, priors.mu_sd, k, rng),
             "sigma": sigma_prior_draw(priors, k, rng),
             "w": rng.dirichlet(np.full(k, priors.alpha))}
    labels = rng.choice(k, p=truth["w"], size=n)
    return truth, rng.normal(truth["mu"][labels], truth["sigma"][labels])


def quantile_starts(x: np.ndarray, k: int) -> np.ndarray:
    """The data's (j + 1/2)/K quantiles: PyMC's default start of the means."""
    return np.quantile(x, (np.arange(k) + 0.5) / k)


def sbc_centres(k: int) -> tuple[float, ...]:
    """SBC's prior means of the K component means, SBC_GAP apart (2, 6, 10 for K = 3)."""
    return tuple(SBC_FIRST_CENTRE + SBC_GAP * np.arange(k))


# --- report plots -------------------------------------------------------------------------------


def mixture_density(grid: np.ndarray, weights, means, sds) -> np.ndarray:
    """sum_k w_k Normal(grid | mu_k, sd_k); parameters may carry leading draw axes."""
    z = (grid[:, None] - np.expand_dims(means, -2)) / np.expand_dims(sds, -2)
    scale = np.expand_dims(weights / (sds * np.sqrt(2 * np.pi)), -2)
    return np.sum(scale * np.exp(-0.5 * z**2), axis=-1)


def posterior_mean_density(idata: xr.DataTree, grid: np.ndarray,
                           draws: int = DENSITY_DRAWS) -> np.ndarray:
    """The posterior mean of the mixture density (the predictive density of a new x), from
    ``draws`` draws evenly spaced over all chains."""
    posterior = idata.posterior
    flat = {v: posterior[v].values.reshape(-1, posterior[v].shape[-1]) for v in ("w", "mu", "sigma")}
    chosen = np.linspace(0, len(flat["w"]) - 1, min(draws, len(flat["w"]))).round().astype(int)
    return mixture_density(grid, *(flat[v][chosen] for v in ("w", "mu", "sigma"))).mean(axis=0)


def density_figure(x: np.ndarray, em: MixtureFit, idata: xr.DataTree,
                   folder: Path) -> tuple[str, Path]:
    """The data's histogram with EM's fitted density and NUTS's posterior mean density."""
    grid = np.linspace(x.min(), x.max(), 400)
    figure, axes = new_figure(height=3.5)
    ax = axes[0, 0]
    ax.hist(x, bins=min(100, max(10, x.size // 50)), density=True, color="0.8", label="data")
    ax.plot(grid, mixture_density(grid, em.weights, em.means, em.sds), color="C0",
            label="EM (maximum likelihood)")
    ax.plot(grid, posterior_mean_density(idata, grid), color="C3", linestyle="--",
            label="NUTS (posterior mean density)")
    ax.set(xlabel="x", ylabel="density")
    ax.legend(fontsize="small")
    caption = (f"The {x.size} observations with the {em.weights.size}-component mixture fitted "
               f"by EM and by NUTS (the density averaged over {DENSITY_DRAWS} posterior draws)")
    return caption, save(figure, folder, "mixture_density")


def em_trace_figure(em: MixtureFit, folder: Path) -> tuple[str, Path]:
    """EM's log-likelihood per iteration, and its rise per iteration on a log scale: EM never
    lowers the likelihood, so every rise is >= 0."""
    trace = np.asarray(em.loglik_trace)
    rise = np.diff(trace)
    figure, axes = new_figure(1, 2, height=3.2)
    axes[0, 0].plot(np.arange(trace.size), trace, marker=".")
    axes[0, 0].set(xlabel="iteration", ylabel="log-likelihood", title="EM's objective")
    positive = rise > 0
    axes[0, 1].semilogy(np.arange(1, trace.size)[positive], rise[positive], marker=".")
    axes[0, 1].set(xlabel="iteration", ylabel="rise of the log-likelihood",
                   title="rise per iteration (log scale)")
    if not rise.size:
        return "EM's log-likelihood: converged at its start", save(figure, folder, "em_loglik")
    verdict = "monotone" if rise.min() >= 0 else "monotone up to rounding"
    caption = (f"EM's log-likelihood over its {em.n_iter} iterations (best of {EM_RESTARTS} "
               f"starts): {verdict}, smallest rise {rise.min():.2g}")
    return caption, save(figure, folder, "em_loglik")


# --- the model ----------------------------------------------------------------------------------


class MixtureCalibration(Calibration):
    """SBC under its own proper prior that keeps the components apart (docs/models.md, gmm's
    design notes), from dispersed EM starts as in the fit; the prior settings do not apply to
    SBC, only ``components``."""

    def priors(self, settings: dict[str, Any]) -> Priors:
        return Priors(sbc_centres(settings["components"]), SBC_MU_SD, SBC_SIGMA_SCALE, SBC_ALPHA,
                      SBC_SIGMA_LOG_SD)

    def notes(self) -> list[str]:
        k = self.model.parse_settings()["components"]
        centres = ", ".join(f"{c:g}" for c in sbc_centres(k))
        priors = (f"SBC's own prior, not the fit's: mu_k ~ Normal(({centres}), {SBC_MU_SD:g}) "
                  f"ordered, sigma ~ LogNormal(log {SBC_SIGMA_SCALE:g}, {SBC_SIGMA_LOG_SD:g}), "
                  f"w ~ Dirichlet({SBC_ALPHA:g}), the same in simulator and fitted model")
        scope = ("it keeps the simulated components apart, where the mixture is identifiable: "
                 "under the fit's wide prior components often overlap, the posterior is then "
                 "multimodal and the chains sample one mode (docs/models.md, gmm)")
        starts = ("each chain starts at its own dispersed EM start on the simulated data, as "
                  "in the fit")
        sorting = ("means simulated in numpy by rejection of unordered draws (forward "
                   "sampling ignores the ordered transform)")
        return [f"{SBC_N} observations per simulated data set (the default data has {LECTURE_N})",
                priors, scope, sorting, starts]

    def pymc_model(self, settings):
        """The mixture under SBC's prior on SBC_N placeholder points (SBC swaps in each
        simulated x); the means' default start is the prior's centres."""
        priors, k = self.priors(settings), settings["components"]
        x = self.model.default_data(settings)["x"].to_numpy()[:SBC_N]
        return mixture_model(x, k, priors, np.asarray(priors.mu_mean))

    def start(self, settings, observed):
        """Each chain at its own dispersed EM start on the simulated data, as in the fit
        (nutpie's jittered default where every EM start collapses)."""
        try:
            x = np.asarray(observed["x"])
            return em_starts(x, likelihood_optima(x, settings["components"])[0])
        except DataError:
            return None

    def simulate(self, model, settings, rng):
        truth, x = simulate_from_prior(self.priors(settings), settings["components"], SBC_N, rng)
        return truth, {"x": x}


class GaussianMixture(ZooModel):
    name = "gmm"
    title = ("1-D Gaussian mixture, labels marginalised, means ordered; NUTS from EM starts vs "
             "the posterior by importance sampling, EM beside it")
    formula = [
        r"\mu_k \sim \mathrm{Normal}(m, s),\quad \mu_0 < \mu_1 < \cdots < \mu_{K-1}",
        r"\sigma_k \sim \mathrm{HalfNormal}(t),\quad w \sim \mathrm{Dirichlet}(a, \ldots, a)",
        r"x_i \sim \sum_k w_k\, \mathrm{Normal}(\mu_k, \sigma_k)",
    ]
    summary = ("A one-dimensional mixture of K Gaussians (by default 10,000 points from the "
               "lecture's three components), each point's label summed out and the means ordered "
               "so that components cannot swap; weakly informative priors on the data's scale. "
               "Chains start dispersed around the EM optimum. The reference is the posterior "
               "itself, by Pareto-smoothed importance sampling on a separately written log "
               "posterior; EM, k-means and MAP-EM are shown beside it.")
    columns = [Column("x", "real", "one observation per row (see --set column=)")]
    settings = {
        "components": Setting("3", parsers.whole_number(2, "a mixture's number of components", 20),
                              "number of mixture components K"),
        "mu_prior": Setting("auto", parse_mu_prior,
                            "normal:M,S for every mean; auto: Normal(mean x, 2 sd x)"),
        "sigma_prior": Setting("auto", parse_sigma_prior,
                               "halfnormal:S for every sd; auto: HalfNormal(2 sd x)"),
        "w_prior": Setting("dirichlet:2", parse_w_prior, "dirichlet:A, the weights' prior"),
        "init": Setting("em", parsers.choice("em", "jitter"),
                        "em: chains start dispersed around the EM optimum; "
                        "jitter: PyMC's default jittered start"),
        "column": Setting("x", parse_column, "the CSV column holding the data",
                          applies_to="data"),
    }
    var_names = ["mu", "sigma", "w"]
    reference_seed = REFERENCE_SEED
    #: bulk ESS ~2,400: every check still detects 0.14 sd (0.12 at 1,000 draws, for 1.5x the
    #: sampling time); benchmarks/MEASUREMENTS.md
    draws = 600

    def default_data(self, settings):
        return read_csv(LECTURE_CSV, self.columns)

    def load(self, path, settings):
        """The user's CSV, reading the column named by ``column=``, or the lecture's data."""
        if path is None:
            return self.default_data(settings)
        column = settings["column"]
        frame = read_csv(path, [Column(column, "real", "")]).rename(columns={column: "x"})
        x = frame["x"].to_numpy()
        distinct = np.unique(x).size
        if distinct >= 2 * settings["components"]:  # else no spread to measure: refused below
            try:
                units = Units.of(x)
            except DataError as err:
                raise DataError(f"{path}: column '{column}': {err}") from None
            distinct = np.unique(units.standardise(x)).size
        if distinct < 2 * settings["components"]:
            resolution = " once standardised" if distinct < np.unique(x).size else ""
            raise DataError(f"{path}: column '{column}' has {distinct} distinct values"
                            f"{resolution}; {settings['components']} components need at least "
                            f"{2 * settings['components']}")
        return frame

    def build(self, data, settings):
        x = data["x"].to_numpy()
        k = settings["components"]
        return mixture_model(x, k, resolve_priors(x, settings), quantile_starts(x, k))

    def figures(self, result, folder: Path) -> list[tuple[str, Path]]:
        """The data with EM's and NUTS's mixture densities; EM's log-likelihood per iteration."""
        x = result.data["x"].to_numpy()
        em = result.reference.workings["optima"][0]
        return [density_figure(x, em, result.fit.idata, Path(folder)),
                em_trace_figure(em, Path(folder))]

    def calibration(self):
        return MixtureCalibration(self)

    def log_posterior(self, data, settings):
        """The module docstring's formulas on (mu, sigma, w), the labels summed out as in the
        PyMC model; 'auto' priors recomputed here from the documented formula (not by
        ``resolve_priors``), and nothing taken from the reference's ``mixture_log_posterior``."""
        x = data["x"].to_numpy(float)
        spread = np.std(x, ddof=1)
        mu_mean, mu_sd = settings["mu_prior"] or (np.mean(x), 2 * spread)
        sigma_scale, alpha = settings["sigma_prior"] or 2 * spread, settings["w_prior"]

        def log_density(values):
            mu, sigma, w = values["mu"], values["sigma"], values["w"]
            prior = (stats.norm.logpdf(mu, mu_mean, mu_sd).sum()
                     + stats.halfnorm.logpdf(sigma, scale=sigma_scale).sum()
                     + special.gammaln(alpha * w.size) - w.size * special.gammaln(alpha)
                     + (alpha - 1) * np.log(w).sum())
            per_component = np.log(w) + stats.norm.logpdf(x[:, None], mu, sigma)
            return float(prior + special.logsumexp(per_component, axis=1).sum())

        return log_density

    def reference(self, data, settings):
        """Posterior means and sds by importance sampling over every mode found; where that
        cannot be trusted, EM (a weaker check) if EM has one optimum of its height, else a
        refusal (never one mode standing for several); EM, its standard errors, k-means and
        MAP-EM beside them. Its workings: EM's optima, where the chains start."""
        x = data["x"].to_numpy()
        k = settings["components"]
        optima, priors = likelihood_optima(x, k), resolve_priors(x, settings)
        found = posterior_reference(x, k, priors, optima, self.reference_seed)
        return replace(found, workings={"optima": optima}, notes=[priors_note(priors), *found.notes])

    def nuts_options(self, data, settings, reference):
        """Each chain at its own dispersed start around one of the EM optima of comparable
        likelihood (or PyMC's jittered default)."""
        if settings["init"] != "em":
            return {}
        return {"starts": mode_starts(data["x"].to_numpy(),
                                      comparable_optima(reference.workings["optima"]))}

    def complete(self, fit, data, settings, config, reference):
        """NUTS's answers and speed beside EM's, and a per-chain comparison with EM's optimum."""
        if config.sampler == "smc":
            return
        x = data["x"].to_numpy()
        fit.alternatives["nuts"] = posterior_alternatives(fit.idata, x)
        em = reference.workings["optima"][0]
        for chain, what in chains_off_reference(fit.idata, mixture_values(em)).items():
            fit.notes.append(f"chain {chain} disagrees with the EM optimum ({what})")

    def faults(self):
        return [GmmSigmaAsVariance, GmmNoWeights, GmmSigmaPrior, GmmSigmaScaleFromVariance,
                GmmDropLast, GmmTempered]

    def posteriordb_code(self):
        return PosteriordbCode(posteriordb_pymc)

    def scaling_data(self, size):
        """The lecture's story at ``size`` points (simulate_lecture_mixture, LECTURE_SEED)."""
        return pd.DataFrame({"x": simulate_lecture_mixture(size)})


# --- injected faults (zoo power; their kinds: zoo.core.faults) ----------------------------------
# on the example: three components, 10,000 points


def _mixture_logp(model, sigma=None, weights=None):
    """The mixture's log-likelihood of the observed x, with sigma or the weights replaced."""
    x = observed(model)
    mixture = pm.NormalMixture.dist(w=model["w"] if weights is None else weights, mu=model["mu"],
                                    sigma=model["sigma"] if sigma is None else sigma, shape=x.shape)
    return pm.logp(mixture, x)


class GmmSigmaAsVariance(Fault, GaussianMixture):
    fault = "sigma-as-variance"
    description = "the likelihood given sigma^2 where the sd sigma belongs"

    def inject(self, model, data, settings):
        add_delta("likelihood", _mixture_logp(model, sigma=model["sigma"] ** 2) - _mixture_logp(model))


class GmmNoWeights(Fault, GaussianMixture):
    fault = "no-weights"
    description = "the likelihood with equal weights 1/K: w left out of NormalMixture"

    def inject(self, model, data, settings):
        k = len(model.coords["component"])
        add_delta("likelihood", _mixture_logp(model, weights=np.full(k, 1 / k)) - _mixture_logp(model))


class GmmSigmaPrior(Fault, GaussianMixture):
    fault = "sigma-prior-20pct"
    description = "sigma_k ~ HalfNormal(1.2 t) instead of HalfNormal(t) (scale 20 % off)"

    def inject(self, model, data, settings):
        sigma = model["sigma"]
        scale = sigma.owner.inputs[-1]
        add_delta("prior", pm.logp(pm.HalfNormal.dist(OFF * scale), sigma)
                  - pm.logp(pm.HalfNormal.dist(scale), sigma))


class GmmSigmaScaleFromVariance(SharedHelperFault, GaussianMixture):
    fault = "sigma-scale-variance"
    description = ("resolve_priors: sigma's 'auto' HalfNormal scale 2 var(x) instead of the "
                   "documented 2 sd(x), in the model and its reference alike")
    helper = "resolve_priors"

    @staticmethod
    def faulty_helper(original):
        def resolve(x, settings):
            priors = original(x, settings)
            if settings["sigma_prior"]:
                return priors
            return replace(priors, sigma_scale=2.0 * float(np.var(x, ddof=1)))
        return resolve


class GmmDropLast(DropLast, GaussianMixture):
    pass


class GmmTempered(Tempered, GaussianMixture):
    pass


# --- written for posteriordb (zoo posteriordb export; zoo.core.posteriordb_code) ----------------
def posteriordb_pymc(settings: dict[str, Any], data: pd.DataFrame) -> str:
    """The priors resolved on the example ('auto' is its scale)."""
    k, priors = settings["components"], resolve_priors(data["x"].to_numpy(), settings)
    return f'''
K = {k}
MU_MEAN, MU_SD = {float(priors.mu_mean)!r}, {float(priors.mu_sd)!r}  # mu ~ Normal, ordered
SIGMA_SCALE = {float(priors.sigma_scale)!r}  # sigma ~ HalfNormal
ALPHA = {float(priors.alpha)!r}  # w ~ Dirichlet(ALPHA, ..., ALPHA)


def model(data):
    """The labels marginalised, the means ordered (no label switching)."""
    x = np.asarray(data["x"], dtype=float)
    with pm.Model(coords={{"component": np.arange(K)}}) as pymc_model:
        mu = pm.Normal("mu", MU_MEAN, MU_SD, transform=pm.distributions.transforms.ordered,
                       initval=np.quantile(x, (np.arange(K) + 0.5) / K), dims="component")
        sigma = pm.HalfNormal("sigma", SIGMA_SCALE, dims="component")
        w = pm.Dirichlet("w", a=np.full(K, ALPHA), dims="component")
        pm.NormalMixture("x", w=w, mu=mu, sigma=sigma, observed=x)
    return pymc_model
'''


MODEL = GaussianMixture()


if __name__ == "__main__":
    write_example_command("zoo.models.gmm", write_lecture_csv, LECTURE_CSV)
