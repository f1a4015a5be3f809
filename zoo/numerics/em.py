"""EM for Gaussian mixtures and for a Gaussian with missing values, in plain numpy.

Lecture 14 (``shared/seeds/000_08eb5e4762ca4b6f.txt``): the observed-data log-likelihood of a
mixture, ``sum_i log sum_k w_k N(x_i | mu_k, Sigma_k)``, has no closed-form maximum. EM alternates
an E-step (responsibilities ``r_ik = p(z_i = k | x_i)``) and an M-step (weighted maximum
likelihood), and no iteration may lower the log-likelihood. Here that is a checked invariant:
every fit records its objective per iteration and raises :class:`LikelihoodDecreased` if it ever
falls by more than rounding. EM is local, so fits restart from several k-means++ seeds and keep the
best. Variants from the lecture: hard EM (k-means, the mode of ``z`` instead of its posterior) and
MAP-EM (a conjugate prior added in the M-step, which keeps a component from collapsing onto one
point), plus the 2-D toy where EM fills in missing coordinates by conditional expectation
(the ``missing-data`` model's alternative to its exact posterior).

Numerics. The data are swept in blocks of ``_BLOCK`` values so that the per-block ``(K, b)``
temporaries (log densities, turned into responsibilities in place by a hand-written
log-sum-exp) stay in cache; one sweep yields the objective at the current parameters and the
responsibility-weighted moments *about the current means*, ``N_k``, ``S1_k = sum r (x - mu_k)``
and ``S2_k = sum r (x - mu_k)(x - mu_k)^T``. Moments about the current means do not suffer the
cancellation of ``E[x^2] - E[x]^2`` (the shift ``S1/N`` is small near convergence), so variances
stay accurate even as a component shrinks. Internally means are ``(K, d)`` and covariances
``(K, d, d)``; 1-D input takes a scalar fast path and is returned as ``(K,)`` arrays. Every fit
runs on standardised data and is mapped back (``_Units``), so that its answer does not depend
on the data's units (the stopping rule compares a change with the objective's size, which
moves with them) and k-means++'s squared distances cannot overflow.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
from numpy.typing import ArrayLike, NDArray

from zoo.core.deferred import linalg, special

__all__ = [
    "ComponentCollapsed",
    "LikelihoodDecreased",
    "MixtureFit",
    "MixturePrior",
    "em_gaussian_missing",
    "fit_gmm",
    "fit_kmeans",
    "fit_map_gmm",
    "gmm_loglik",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
# Values of x per block: (K, _BLOCK) float64 temporaries stay in a core's L2 cache.
_BLOCK = 2**14
# A fall of the objective by at most this times (|objective| + n) is rounding, not a bug:
# each point's log density carries a few ulps and their sum over n points is accumulated.
_DECREASE_RTOL = 1e-10
# A component whose smallest covariance eigenvalue is below machine epsilon times the data's
# largest one sits on a single point at the data's floating-point resolution.
_COLLAPSE_RTOL = float(np.finfo(float).eps)

Params = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
Moments = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


class LikelihoodDecreased(ArithmeticError):
    """The EM objective fell between two iterations, which EM cannot do: an update is wrong.

    ``loglik_trace`` holds the objective per iteration, ending with the value that fell.
    """

    def __init__(self, message: str, loglik_trace: NDArray[np.float64]) -> None:
        super().__init__(message)
        self.loglik_trace = loglik_trace


class ComponentCollapsed(ArithmeticError):
    """A component emptied or shrank onto a point: the ML likelihood is unbounded there.

    ``loglik_trace`` holds the objective per iteration up to the collapse (it climbs steeply
    as the variance goes to zero). MAP-EM (:func:`fit_map_gmm`) cannot collapse.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.loglik_trace = np.empty(0)


@dataclass(frozen=True)
class MixtureFit:
    """One EM fit, its components sorted by mean (the first coordinate in d-D).

    Attributes
    ----------
    weights : (K,) mixing weights.
    means : (K,) in 1-D, (K, d) in d-D.
    covariances : (K,) variances in 1-D, (K, d, d) in d-D.
    loglik : observed-data log-likelihood of the returned mixture.
    loglik_trace : the objective EM climbed, per iteration (the start first): the log-likelihood
        for ML-EM, log-likelihood + log-prior for MAP-EM, the classification (complete-data)
        log-likelihood for hard EM.
    n_iter : updates applied to reach the returned parameters (``len(loglik_trace) - 1``).
    max_iter : the limit on ``n_iter``.
    converged : whether the objective's relative change fell below ``tol`` before ``max_iter``.
    restart_logliks : final objective of each restart (NaN where a component collapsed).
    """

    weights: NDArray[np.float64]
    means: NDArray[np.float64]
    covariances: NDArray[np.float64]
    loglik: float
    loglik_trace: NDArray[np.float64]
    n_iter: int
    max_iter: int
    converged: bool
    restart_logliks: NDArray[np.float64] = field(repr=False)

    def __post_init__(self) -> None:
        for array in (self.weights, self.means, self.covariances, self.loglik_trace,
                      self.restart_logliks):
            array.setflags(write=False)

    @property
    def sds(self) -> NDArray[np.float64]:
        """Standard deviations: (K,) in 1-D, the marginal ones (K, d) in d-D."""
        if self.covariances.ndim == 1:
            return np.sqrt(self.covariances)
        return np.sqrt(np.diagonal(self.covariances, axis1=1, axis2=2))


@dataclass(frozen=True)
class MixturePrior:
    """Conjugate prior for MAP-EM; ``None`` fields take the data-based defaults below.

    ``w ~ Dirichlet(alpha, ..., alpha)``, and per component ``Sigma_k ~ InvWishart(df, scale)``
    and ``mu_k | Sigma_k ~ N(mean, Sigma_k / kappa)``. In 1-D the inverse-Wishart is
    ``sigma_k^2 ~ InvGamma(df / 2, scale / 2)``. The M-step then has a closed form and a
    component's covariance is at least ``scale / (df + n + d + 2)``, so it cannot collapse.
    Defaults follow Fraley & Raftery (2007, J. Classification 24:155): ``mean`` the data mean,
    ``kappa = 0.01``, ``df = d + 2``, ``scale = cov(x) / K^(2/d)``; ``alpha = 1`` is flat.
    """

    alpha: float = 1.0
    mean: ArrayLike | None = None
    kappa: float = 0.01
    df: float | None = None
    scale: ArrayLike | None = None


def gmm_loglik(x: ArrayLike, weights: ArrayLike, means: ArrayLike,
               covariances: ArrayLike) -> float:
    """Observed-data log-likelihood ``sum_i log sum_k w_k N(x_i | mu_k, Sigma_k)``.

    Parameters are shaped as in :class:`MixtureFit` (1-D: variances). Useful to score parameters
    found elsewhere (e.g. scikit-learn) on the same footing as a fit.
    """
    data, one_d = _as_data(x)
    params = _as_params((weights, means, covariances), data.shape[1], one_d)
    return _sweep(data, *params, hard=False)[0]


def fit_gmm(x: ArrayLike, k: int, *, restarts: int = 10, tol: float = 1e-8,
            max_iter: int = 1000, seed: int = 0,
            init: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None) -> MixtureFit:
    """Maximum-likelihood Gaussian mixture (full covariances in d-D) by EM.

    Parameters
    ----------
    x : (n,) or (n, d) data.
    k : number of components.
    restarts : k-means++ starts (``numpy.random.default_rng(seed)``); the best objective wins.
        Ignored when ``init`` is given.
    tol : stop when ``|l_t - l_{t-1}| <= tol * |l_t|`` for the log-likelihood ``l`` (with
        ``tol=0``, when it stops changing at all).
    init : ``(weights, means, covariances)`` to start from instead (1-D: variances).

    Raises
    ------
    ComponentCollapsed
        If every start collapses (the ML likelihood is unbounded; use :func:`fit_map_gmm`).
        A collapsed restart is otherwise skipped and recorded as NaN.
    LikelihoodDecreased
        If an iteration lowers the log-likelihood (a bug, never expected).
    """
    data, one_d = _as_data(x)
    units = _Units.of(data)
    z = units.inward(data)
    method = _Method(hard=False, update=partial(_ml_update, floor=_collapse_floor(z)))
    fit = _fit(z, one_d, k, method, _gmm_starts(z, one_d, k, restarts, seed, init, units),
               tol, max_iter)
    return units.outward(fit, n=data.shape[0])


def fit_map_gmm(x: ArrayLike, k: int, prior: MixturePrior | None = None, *,
                restarts: int = 10, tol: float = 1e-8, max_iter: int = 1000, seed: int = 0,
                init: tuple[ArrayLike, ArrayLike, ArrayLike] | None = None) -> MixtureFit:
    """MAP Gaussian mixture by EM: the lecture's remedy for singular ML fits.

    The prior's log density is added to the M-step, and the objective that must climb (and
    whose relative change is tested against ``tol``) is log-likelihood + log-prior. Other
    arguments as in :func:`fit_gmm`; ``prior=None`` means ``MixturePrior()``.
    """
    data, one_d = _as_data(x)
    units = _Units.of(data)
    z = units.inward(data)
    resolved = units.prior_inward(_resolve_prior(prior or MixturePrior(), data, k))
    method = _Method(hard=False, update=partial(_map_update, prior=resolved),
                     log_prior=partial(_log_prior, prior=resolved))
    fit = _fit(z, one_d, k, method, _gmm_starts(z, one_d, k, restarts, seed, init, units),
               tol, max_iter)
    return units.outward(fit, n=data.shape[0], with_prior=True)


def fit_kmeans(x: ArrayLike, k: int, *, restarts: int = 10, tol: float = 1e-8,
               max_iter: int = 1000, seed: int = 0, init: ArrayLike | None = None) -> MixtureFit:
    """k-means as hard EM: each point goes to the mode of its label posterior.

    The model is the mixture with equal, fixed weights ``1/K`` and one shared spherical
    covariance ``sigma^2 I``, so the mode of ``z_i`` is the nearest mean and the M-step gives the
    cluster means (Lloyd's algorithm) and ``sigma^2 = SSE / (n d)``. The climbing objective is the
    classification log-likelihood ``-n log K - (n d / 2) log(2 pi sigma^2) - SSE / (2 sigma^2)``.
    ``init`` gives the starting means; an emptied cluster keeps its mean. Other arguments as in
    :func:`fit_gmm`.
    """
    data, one_d = _as_data(x)
    _, d = data.shape
    units = _Units.of(data)
    z = units.inward(data)
    if init is None:
        rng = np.random.default_rng(seed)
        starts: Iterator[Params] = (_kmeans_start(z, _kmeans_pp(z, k, rng))
                                    for _ in range(_positive(restarts, "restarts")))
    else:
        means = np.array(init, dtype=float).reshape(-1, d)
        if means.shape[0] != k or not np.all(np.isfinite(means)):
            raise ValueError(f"init must hold {k} finite means")
        starts = iter([_kmeans_start(z, units.inward(means))])
    method = _Method(hard=True, update=partial(_kmeans_update, floor=_collapse_floor(z)))
    return units.outward(_fit(z, one_d, k, method, starts, tol, max_iter), n=data.shape[0])


def em_gaussian_missing(x: ArrayLike, *, tol: float = 1e-10, max_iter: int = 10_000,
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                   NDArray[np.float64]]:
    """Maximum-likelihood mean and covariance of a multivariate normal with NaNs missing at random.

    The lecture's 2-D toy: the E-step replaces each missing block by its conditional
    expectation given the row's observed values, ``mu_m + S_mo S_oo^-1 (x_o - mu_o)``, and adds
    the conditional covariance ``S_mm - S_mo S_oo^-1 S_om`` to the second moments; the M-step is
    the complete-data MLE. Rows are grouped by missingness pattern, so any pattern works. Starts
    from the per-column means and variances of the observed values. ``models/missing_data.py``
    uses it, and its tests hold it to the closed-form maximum (Anderson's factoring).

    Returns
    -------
    mean : (d,)
    cov : (d, d), the MLE (divisor n).
    loglik_trace : observed-data log-likelihood per iteration, non-decreasing.

    Raises
    ------
    RuntimeError
        If the relative change of the log-likelihood stays above ``tol`` for ``max_iter`` steps.
    """
    data = np.array(x, dtype=float)
    if data.ndim != 2 or data.shape[1] < 1:
        raise ValueError(f"x must be (n, d), got shape {data.shape}")
    missing = np.isnan(data)
    if np.isinf(data).any():
        raise ValueError("x must not hold infinities")
    if missing.all(axis=1).any():
        raise ValueError("every row needs at least one observed value")
    if ((~missing).sum(axis=0) < 2).any():
        raise ValueError("every column needs at least two observed values")
    patterns, group = np.unique(missing, axis=0, return_inverse=True)
    blocks = [(~pattern, data[group.ravel() == g][:, ~pattern])
              for g, pattern in enumerate(patterns)]
    start = (np.nanmean(data, axis=0), np.diag(np.nanvar(data, axis=0)))
    n = data.shape[0]
    (mean, cov), trace, _, converged = _ascend(partial(_missing_e_step, blocks=blocks),
                                               partial(_missing_m_step, n=n), start, n, tol,
                                               max_iter)
    if not converged:
        raise RuntimeError(f"no convergence in {max_iter} iterations (last change "
                           f"{trace[-1] - trace[-2]:.3g}); raise max_iter or tol")
    return mean, cov, trace


# --- units ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Units:
    """x = centre + scale z, one scale for every coordinate (so Euclidean distances, and with
    them k-means and k-means++, keep their geometry). Every fit runs on z and is mapped back:
    the stopping rule (a relative change of the objective), the collapse floor and the seeds
    then do not depend on the data's units, and squared distances cannot overflow."""

    centre: NDArray[np.float64]
    scale: float

    @classmethod
    def of(cls, data: NDArray[np.float64]) -> "_Units":
        with np.errstate(over="ignore", invalid="ignore"):
            centre = data.mean(axis=0)
            scale = float(np.sqrt(np.mean((data - centre) ** 2)))
        if not (np.all(np.isfinite(centre)) and np.isfinite(scale)):
            raise ValueError("x's spread overflows floating point; rescale x")
        return cls(centre, scale if scale > 0 else 1.0)  # all equal: refused by the seeds

    def inward(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        return (values - self.centre) / self.scale

    def prior_inward(self, prior: MixturePrior) -> MixturePrior:
        """The resolved prior on z: the Normal-inverse-Wishart maps to one of the same family."""
        return replace(prior, mean=self.inward(np.asarray(prior.mean)),
                       scale=np.asarray(prior.scale) / self.scale**2)

    def outward(self, fit: MixtureFit, n: int, with_prior: bool = False) -> MixtureFit:
        """A fit to z as a fit to x. Densities move by the map's log Jacobian: -n d log scale
        for the likelihood, -K d (d + 2) log scale for a Normal-inverse-Wishart prior."""
        d = self.centre.size
        log_scale = float(np.log(self.scale))
        shift = -n * d * log_scale
        prior_shift = -fit.weights.size * d * (d + 2) * log_scale if with_prior else 0.0
        centre = self.centre[0] if fit.means.ndim == 1 else self.centre
        return replace(fit, means=centre + self.scale * fit.means,
                       covariances=self.scale**2 * fit.covariances, loglik=fit.loglik + shift,
                       loglik_trace=fit.loglik_trace + shift + prior_shift,
                       restart_logliks=fit.restart_logliks + shift + prior_shift)


# --- the EM loop shared by every fit ---------------------------------------------------------


def _ascend[P, S](evaluate: Callable[[P], tuple[float, S]], update: Callable[[P, S], P],
                  start: P, n: int, tol: float, max_iter: int,
                  ) -> tuple[P, NDArray[np.float64], int, bool]:
    """Climb from ``start`` by EM, checking that the objective never falls.

    ``evaluate(p)`` gives the objective at ``p`` and the E-step's statistics, ``update(p, s)``
    the M-step. Returns the last parameters (whose objective ends the trace), the trace, the
    number of updates and whether ``tol`` was met.
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    params = start
    objective, stats = evaluate(params)
    trace = [objective]
    for n_iter in range(1, max_iter + 1):
        try:
            proposal = update(params, stats)
        except ComponentCollapsed as err:
            err.loglik_trace = np.array(trace)
            raise
        objective, stats = evaluate(proposal)
        if not objective >= trace[-1] - _DECREASE_RTOL * (abs(trace[-1]) + n):
            raise LikelihoodDecreased(
                f"EM objective fell from {trace[-1]!r} to {objective!r} at iteration {n_iter}",
                np.array([*trace, objective]))
        trace.append(objective)
        params = proposal
        if abs(trace[-1] - trace[-2]) <= tol * abs(trace[-1]):
            return params, np.array(trace), n_iter, True
    return params, np.array(trace), max_iter, False


@dataclass(frozen=True)
class _Method:
    """What distinguishes ML-EM, MAP-EM and hard EM: the E-step kind, the M-step, the prior."""

    hard: bool
    update: Callable[[Params, Moments, int], Params]
    log_prior: Callable[[Params], float] | None = None


def _fit(data: NDArray[np.float64], one_d: bool, k: int, method: _Method,
         starts: Iterator[Params], tol: float, max_iter: int) -> MixtureFit:
    """Run EM from every start, keep the best objective, return it sorted by mean."""
    n = data.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n = {n}, got {k}")

    def evaluate(params: Params) -> tuple[float, Moments]:
        objective, moments = _sweep(data, *params, hard=method.hard)
        if method.log_prior is not None:
            objective += method.log_prior(params)
        return objective, moments

    update = partial(method.update, n=n)

    best, objectives, collapse = None, [], None
    for start in starts:
        try:
            run = _ascend(evaluate, update, start, n, tol, max_iter)
        except ComponentCollapsed as err:
            collapse = err
            objectives.append(np.nan)
            continue
        objectives.append(run[1][-1])
        if best is None or run[1][-1] > best[1][-1]:
            best = run
    if best is None:
        assert collapse is not None
        raise collapse
    params, trace, n_iter, converged = best
    if method.hard:
        loglik = _sweep(data, *params, hard=False)[0]
    elif method.log_prior is not None:
        loglik = trace[-1] - method.log_prior(params)
    else:
        loglik = trace[-1]
    weights, means, covs = params
    order = np.argsort(means[:, 0], kind="stable")
    weights, means, covs = weights[order], means[order], covs[order]
    if one_d:
        means, covs = means[:, 0], covs[:, 0, 0]
    return MixtureFit(weights=weights, means=means, covariances=covs, loglik=float(loglik),
                      loglik_trace=trace, n_iter=n_iter, max_iter=max_iter,
                      converged=converged, restart_logliks=np.array(objectives))


# --- E-step: one sweep over the data --------------------------------------------------------


def _sweep(x: NDArray[np.float64], weights: NDArray[np.float64], means: NDArray[np.float64],
           covs: NDArray[np.float64], *, hard: bool) -> tuple[float, Moments]:
    """Objective at the given parameters and the responsibility-weighted moments about ``means``.

    The objective is ``sum_i log sum_k w_k N(x_i | mu_k, Sigma_k)``, or with ``hard`` the
    ``sum_i max_k log(w_k N(...))`` of hard EM, whose responsibilities are one-hot.
    """
    d = means.shape[1]
    chol = np.linalg.cholesky(covs)
    with np.errstate(divide="ignore"):  # a MAP weight can be exactly 0 when alpha = 1
        log_weights = np.log(weights)
    log_norm = (log_weights - 0.5 * d * _LOG_2PI
                - np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1))
    if d == 1:
        return _sweep_1d(x[:, 0], means[:, 0], covs[:, 0, 0], log_norm, hard)
    return _sweep_nd(x, means, chol, log_norm, hard)


def _sweep_1d(x: NDArray[np.float64], means: NDArray[np.float64],
              variances: NDArray[np.float64], log_norm: NDArray[np.float64],
              hard: bool) -> tuple[float, Moments]:
    """:func:`_sweep` for scalar data, with (K, block) temporaries reused in place."""
    k = means.size
    centres, neg_half_precision = means[:, None], (-0.5 / variances)[:, None]
    log_norm = log_norm[:, None]
    dev_buf, resp_buf = np.empty((k, _BLOCK)), np.empty((k, _BLOCK))
    top_buf, total_buf = np.empty(_BLOCK), np.empty(_BLOCK)
    objective, n_k, s1, s2 = 0.0, np.zeros(k), np.zeros(k), np.zeros(k)
    for lo in range(0, x.size, _BLOCK):
        block = x[lo:lo + _BLOCK]
        b = block.size
        dev, resp = dev_buf[:, :b], resp_buf[:, :b]
        np.subtract(block, centres, out=dev)
        np.multiply(dev, dev, out=resp)
        resp *= neg_half_precision
        resp += log_norm
        objective += _responsibilities(resp, top_buf[:b], total_buf[:b], hard)
        n_k += resp.sum(axis=1)
        resp *= dev
        s1 += resp.sum(axis=1)
        s2 += np.einsum("kb,kb->k", resp, dev)
    return objective, (n_k, s1[:, None], s2[:, None, None])


def _sweep_nd(x: NDArray[np.float64], means: NDArray[np.float64], chol: NDArray[np.float64],
              log_norm: NDArray[np.float64], hard: bool) -> tuple[float, Moments]:
    """:func:`_sweep` for (n, d) data; Mahalanobis distances via the covariances' Cholesky."""
    k, d = means.shape
    rows = max(1, _BLOCK // d)
    whiten = np.linalg.inv(chol).transpose(0, 2, 1)  # |(x - mu) @ whiten|^2 = Mahalanobis^2
    top_buf, total_buf = np.empty(rows), np.empty(rows)
    objective, n_k, s1, s2 = 0.0, np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
    for lo in range(0, x.shape[0], rows):
        block = x[lo:lo + rows]
        b = block.shape[0]
        dev = block[None, :, :] - means[:, None, :]
        white = dev @ whiten
        resp = np.einsum("kbd,kbd->kb", white, white)
        resp *= -0.5
        resp += log_norm[:, None]
        objective += _responsibilities(resp, top_buf[:b], total_buf[:b], hard)
        n_k += resp.sum(axis=1)
        weighted = resp[:, :, None] * dev
        s1 += weighted.sum(axis=1)
        s2 += weighted.transpose(0, 2, 1) @ dev
    return objective, (n_k, s1, s2)


def _responsibilities(log_p: NDArray[np.float64], top: NDArray[np.float64],
                      total: NDArray[np.float64], hard: bool) -> float:
    """Turn ``log(w_k N(x_i | .))``, shaped (K, b), into responsibilities in place.

    Soft: a log-sum-exp over components (subtract the column maximum, exponentiate, normalise);
    returns ``sum_i log sum_k``. Hard: one-hot at the first maximum; returns ``sum_i max_k``.
    """
    np.max(log_p, axis=0, out=top)
    if hard:
        labels = np.argmax(log_p, axis=0)
        np.equal(labels, np.arange(log_p.shape[0])[:, None], out=log_p)
        return float(top.sum())
    log_p -= top
    np.exp(log_p, out=log_p)
    np.sum(log_p, axis=0, out=total)
    objective = float(top.sum() + np.log(total).sum())
    np.reciprocal(total, out=total)
    log_p *= total
    return objective


# --- M-steps ---------------------------------------------------------------------------------


def _ml_update(params: Params, moments: Moments, n: int, *, floor: float) -> Params:
    """Weighted ML: ``w = N/n``, ``mu += shift = S1/N``, ``Sigma = S2/N - shift shift^T``."""
    _, means, _ = params
    n_k, s1, s2 = moments
    empty = np.flatnonzero(n_k <= 0)
    if empty.size:
        raise ComponentCollapsed(f"component {empty[0]} has no responsibility left")
    shift = s1 / n_k[:, None]
    covs = s2 / n_k[:, None, None] - shift[:, :, None] * shift[:, None, :]
    smallest = np.linalg.eigvalsh(covs)[:, 0]
    if np.any(smallest <= floor):
        j = int(np.argmin(smallest))
        raise ComponentCollapsed(
            f"component {j} collapsed: smallest covariance eigenvalue {smallest[j]:.3g} with "
            f"{n_k[j]:.3g} points' responsibility at mean {means[j] + shift[j]}")
    return n_k / n, means + shift, covs


def _map_update(params: Params, moments: Moments, n: int, *, prior: MixturePrior) -> Params:
    """Closed-form MAP M-step under the conjugate prior (no division by ``N_k``)."""
    _, means, _ = params
    n_k, s1, s2 = moments
    k, d = means.shape
    m0, kappa = np.asarray(prior.mean), prior.kappa
    new_means = (n_k[:, None] * means + s1 + kappa * m0) / (n_k + kappa)[:, None]
    step = new_means - means
    off_prior = new_means - m0
    cross = s1[:, :, None] * step[:, None, :]
    scatter = (s2 - cross - cross.transpose(0, 2, 1)
               + n_k[:, None, None] * step[:, :, None] * step[:, None, :]
               + kappa * off_prior[:, :, None] * off_prior[:, None, :])
    covs = (np.asarray(prior.scale) + scatter) / (prior.df + n_k + d + 2)[:, None, None]
    weights = (n_k + prior.alpha - 1.0) / (n + k * (prior.alpha - 1.0))
    return weights, new_means, covs


def _kmeans_update(params: Params, moments: Moments, n: int, *, floor: float) -> Params:
    """Lloyd's update of the hard-EM model: cluster means, pooled ``sigma^2 = SSE / (n d)``."""
    weights, means, _ = params
    n_k, s1, s2 = moments
    d = means.shape[1]
    occupied = n_k > 0
    shift = np.zeros_like(means)
    shift[occupied] = s1[occupied] / n_k[occupied, None]
    sse = np.trace(s2, axis1=1, axis2=2).sum() - (n_k * (shift**2).sum(axis=1)).sum()
    variance = sse / (n * d)
    if variance <= floor:
        raise ComponentCollapsed("every point sits on a cluster mean (sigma^2 = 0)")
    return weights, means + shift, np.broadcast_to(variance * np.eye(d), (means.shape[0], d, d))


def _log_prior(params: Params, *, prior: MixturePrior) -> float:
    """Log density of the Dirichlet x Normal-inverse-Wishart prior at the parameters."""
    weights, means, covs = params
    k, d = means.shape
    alpha, kappa, df = prior.alpha, prior.kappa, prior.df
    scale = np.asarray(prior.scale)
    chol = np.linalg.cholesky(covs)
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    off = np.linalg.solve(chol, (means - np.asarray(prior.mean))[:, :, None])[:, :, 0]
    log_normal = -0.5 * (d * (_LOG_2PI - np.log(kappa)) + log_det + kappa * (off**2).sum(axis=1))
    trace_term = np.einsum("ij,kji->k", scale, np.linalg.inv(covs))
    log_iw = (0.5 * df * np.linalg.slogdet(scale)[1] - 0.5 * df * d * np.log(2.0)
              - special.multigammaln(0.5 * df, d) - 0.5 * (df + d + 1) * log_det - 0.5 * trace_term)
    log_dirichlet = (special.gammaln(k * alpha) - k * special.gammaln(alpha)
                     + special.xlogy(alpha - 1.0, weights).sum())
    return float(log_dirichlet + log_normal.sum() + log_iw.sum())


# --- starts, inputs --------------------------------------------------------------------------


def _kmeans_pp(x: NDArray[np.float64], k: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """k-means++ seeds: each next seed is a data point drawn with probability ~ squared distance."""
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(x.shape[0])]
    dist2 = ((x - centres[0]) ** 2).sum(axis=1)
    for j in range(1, k):
        cumulative = np.cumsum(dist2)
        if cumulative[-1] <= 0:
            raise ValueError(f"x has fewer than k = {k} distinct points")
        centres[j] = x[np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")]
        dist2 = np.minimum(dist2, ((x - centres[j]) ** 2).sum(axis=1))
    return centres


def _pooled_scatter(x: NDArray[np.float64], centres: NDArray[np.float64]) -> NDArray[np.float64]:
    """Covariance of the data about their nearest centre, (d, d)."""
    k, d = centres.shape
    _, (_, _, s2) = _sweep(x, np.full(k, 1.0 / k), centres,
                           np.broadcast_to(np.eye(d), (k, d, d)), hard=True)
    return s2.sum(axis=0) / x.shape[0]


def _kmeans_start(x: NDArray[np.float64], centres: NDArray[np.float64]) -> Params:
    """Hard-EM start: equal weights, the centres, ``sigma^2`` = pooled scatter per coordinate."""
    k, d = centres.shape
    variance = np.trace(_pooled_scatter(x, centres)) / d
    return np.full(k, 1.0 / k), centres, np.broadcast_to(variance * np.eye(d), (k, d, d))


def _gmm_starts(data: NDArray[np.float64], one_d: bool, k: int, restarts: int, seed: int,
                init: tuple[ArrayLike, ArrayLike, ArrayLike] | None,
                units: "_Units") -> Iterator[Params]:
    """The given start (in the data's units), or k-means++ seeds with equal weights and the
    pooled scatter, on the standardised ``data``."""
    if init is not None:
        weights, means, covs = _as_params(init, data.shape[1], one_d)
        if weights.size != k:
            raise ValueError(f"init has {weights.size} components, expected k = {k}")
        yield weights, units.inward(means), covs / units.scale**2
        return
    rng = np.random.default_rng(seed)
    for _ in range(_positive(restarts, "restarts")):
        centres = _kmeans_pp(data, k, rng)
        yield np.full(k, 1.0 / k), centres, np.repeat(_pooled_scatter(data, centres)[None], k, 0)


def _as_data(x: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    """Data as a C-contiguous (n, d) float array, and whether it came in 1-D."""
    data = np.ascontiguousarray(x, dtype=float)
    one_d = data.ndim == 1
    if one_d:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] < 2 or data.shape[1] < 1:
        raise ValueError(f"x must be (n,) or (n, d) with n >= 2, got shape {np.shape(x)}")
    if not np.all(np.isfinite(data)):
        raise ValueError("x must be finite (use em_gaussian_missing for NaNs)")
    return data, one_d


def _as_params(params: tuple[ArrayLike, ArrayLike, ArrayLike], d: int, one_d: bool) -> Params:
    """User parameters (1-D: variances) as (K,), (K, d), (K, d, d), checked."""
    weights = np.array(params[0], dtype=float).ravel()
    k = weights.size
    means = np.array(params[1], dtype=float).reshape(k, d)
    covs = np.array(params[2], dtype=float)
    covs = covs.reshape(k, 1, 1) if one_d else covs.reshape(k, d, d)
    if np.any(weights <= 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError("weights must be positive and sum to 1")
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(covs))):
        raise ValueError("means and covariances must be finite")
    symmetric = np.allclose(covs, covs.transpose(0, 2, 1))
    if not symmetric or np.any(np.linalg.eigvalsh(covs)[:, 0] <= 0):
        raise ValueError("covariances must be symmetric positive definite")
    return weights, means, covs


def _collapse_floor(data: NDArray[np.float64]) -> float:
    """Covariance eigenvalue below which a component counts as collapsed."""
    spread = np.cov(data, rowvar=False).reshape(data.shape[1], data.shape[1])
    return _COLLAPSE_RTOL * float(np.linalg.eigvalsh(spread)[-1])


def _resolve_prior(prior: MixturePrior, data: NDArray[np.float64], k: int) -> MixturePrior:
    """Fill in the data-based defaults and check the prior is proper with a MAP estimate."""
    d = data.shape[1]
    df = float(d + 2 if prior.df is None else prior.df)
    mean = data.mean(axis=0) if prior.mean is None else np.array(prior.mean, float).reshape(d)
    if prior.scale is None:
        scale = np.cov(data, rowvar=False).reshape(d, d) / k ** (2.0 / d)
    else:
        scale = np.array(prior.scale, float).reshape(d, d)
    if prior.alpha < 1:
        raise ValueError(f"alpha must be >= 1 for a MAP estimate of the weights, got {prior.alpha}")
    if prior.kappa <= 0:
        raise ValueError(f"kappa must be > 0, got {prior.kappa}")
    if df <= d - 1:
        raise ValueError(f"df must be > d - 1 = {d - 1}, got {df}")
    if np.linalg.eigvalsh(scale)[0] <= 0 or not np.allclose(scale, scale.T):
        raise ValueError("scale must be symmetric positive definite")
    return replace(prior, mean=mean, df=df, scale=scale)


def _positive(value: int, name: str) -> int:
    """``value``, checked to be at least 1."""
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


# --- missing values --------------------------------------------------------------------------


def _missing_e_step(params: tuple[NDArray[np.float64], NDArray[np.float64]],
                    blocks: list[tuple[NDArray[np.bool_], NDArray[np.float64]]],
                    ) -> tuple[float, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Observed-data log-likelihood at ``(mean, cov)`` and the expected complete-data moments.

    ``blocks`` pairs each missingness pattern (a mask of observed columns) with its rows'
    observed values. Moments are about the current mean, as in the mixture sweeps.
    """
    mean, cov = params
    d = mean.size
    objective, s1, s2 = 0.0, np.zeros(d), np.zeros((d, d))
    for observed, values in blocks:
        lost = ~observed
        m, n_obs = values.shape
        dev = values - mean[observed]
        chol = np.linalg.cholesky(cov[np.ix_(observed, observed)])
        # numpy's solve, not scipy's solve_triangular: on a loaded machine OpenBLAS's threaded
        # trsm took ~20 ms on these d x d factors, 200 times numpy's solve
        white = np.linalg.solve(chol, dev.T)
        objective -= (0.5 * ((white**2).sum() + m * n_obs * _LOG_2PI)
                      + m * np.log(np.diag(chol)).sum())
        gain = linalg.cho_solve((chol, True), cov[np.ix_(observed, lost)])  # S_oo^-1 S_om
        filled = np.empty((m, d))
        filled[:, observed] = dev
        filled[:, lost] = dev @ gain  # E[x_m - mu_m | x_o]
        s1 += filled.sum(axis=0)
        s2 += filled.T @ filled
        s2[np.ix_(lost, lost)] += m * (cov[np.ix_(lost, lost)] - cov[np.ix_(lost, observed)] @ gain)
    return objective, (s1, s2)


def _missing_m_step(params: tuple[NDArray[np.float64], NDArray[np.float64]],
                    moments: tuple[NDArray[np.float64], NDArray[np.float64]], n: int,
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Complete-data MLE from the expected moments about the current mean."""
    s1, s2 = moments
    shift = s1 / n
    return params[0] + shift, s2 / n - np.outer(shift, shift)
