"""Coins from one mint (lecture 002, "a single coin from a single mint", Exercise 1, and
"several coins from the same mint"; Kruschke DBDA2 ch. 9).

    omega          ~ Beta(A, B)                                   the mint's bias
    theta_s        ~ Beta(omega (K-2) + 1, (1-omega)(K-2) + 1)    coin s = 1..S (mode omega)
    y_{i|s}        ~ Bernoulli(theta_s)
    K              a fixed setting, or K=free: K - 2 ~ Gamma(shape, rate) with mode 1, sd 10,
                   Kruschke's choice (shape 1.105125, rate 0.1051249); K=free:MODE,SD sets them

Data: one row per flip, columns ``coin`` and ``y``; coins are indexed 0..S-1 in sorted label
order (digits compared as numbers, so coin2 < coin10): ``theta[0]`` is the first label.
Defaults (``EXAMPLES``): ``two-coins``, 3 heads of 15 and 4 of 5 (the lecture says "2 heads
out of 5" but centres coin 2's posterior on 4/5, as Kruschke's figure); ``exercise1``, 7 heads
and 3 tails (the lecture lists nine flips, H H T H T H H H T, but its solution uses 7 and 3).

Reference ``exact``: each theta_s integrated out as a beta-binomial, then adaptive quadrature
over omega (and K when free) in numpy/scipy, not from the PyMC model; the lecture's joint grid
is shown beside it. ``param=noncentred`` (default) samples each coin on a standardised logit
scale, the exact Beta density restored by a Potential, so NUTS meets no funnel at large K or
K=free; the Potential is invisible to forward sampling, so SBC simulates in numpy
(``MintCalibration.simulate``). Details: docs/models.md, "mint: design notes".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from zoo.core import parsers
from zoo.core.calibration import Calibration
from zoo.core.compare import posterior_estimate
from zoo.core.data import Column
from zoo.core.deferred import integrate, optimize, pd, pm, pt, special, stats
from zoo.core.faults import (DropLast, DuplicateLast, Fault, SharedHelperFault, TEMPER, Tempered,
                             add_delta, setting_fault)
from zoo.core.model import Setting, ZooModel
from zoo.core.posteriordb_code import PosteriordbCode
from zoo.core.results import Reference
from zoo.numerics.exact import beta_from_mode, beta_mean_sd, lecture_grid, log_evidence_bernoulli
from zoo.numerics.exact_draws import grid_draws, trimmed_box
from zoo.report.figures import new_figure, save

EXAMPLES = {
    "two-coins": {"coin1": (3, 15), "coin2": (4, 5)},
    "exercise1": {"coin1": (7, 10)},
}
QUAD_RTOL = 1e-9  # relative error of each integral; the moments come out to ~1e-9
#: the K axis of the report's shrinkage plot: at least this range, log-spaced
SWEEP_K_RANGE, SWEEP_POINTS = (5.0, 1000.0), 60


class FreeK(NamedTuple):
    """K - 2 ~ Gamma(shape, rate), given by its mode and sd as Kruschke does."""

    shape: float
    rate: float


class Counts(NamedTuple):
    labels: list[str]
    heads: np.ndarray
    flips: np.ndarray


# --- settings -------------------------------------------------------------------------------
def free_k_from_mode_sd(mode: float, sd: float) -> FreeK:
    """Gamma shape and rate with the given mode and sd (Kruschke's gammaShRaFromModeSD)."""
    rate = (mode + np.sqrt(mode**2 + 4 * sd**2)) / (2 * sd**2)
    return FreeK(float(1 + mode * rate), float(rate))


def parse_k(text: str) -> float | FreeK:
    """'5' -> 5.0 (at least 2); 'free' or 'free:MODE,SD' -> the Gamma prior on K - 2."""
    kind, _, params = text.partition(":")
    if kind == "free":
        try:
            mode, sd = (float(p) for p in params.split(",")) if params else (1.0, 10.0)
        except ValueError:
            raise ValueError("expected free or free:MODE,SD, e.g. free:1,10") from None
        if mode >= 0 and sd > 0:
            return free_k_from_mode_sd(mode, sd)
        raise ValueError("free:MODE,SD needs MODE >= 0 and SD > 0")
    value = parsers.number(text)
    if value < 2:
        raise ValueError("K must be at least 2 (the Beta shapes are omega (K-2) + 1)")
    return value


# --- data -----------------------------------------------------------------------------------
def natural_key(label: str) -> tuple:
    """Sort key comparing runs of digits as numbers: coin2 < coin10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", label) if part)


def coin_counts(data: pd.DataFrame) -> Counts:
    """Heads and flips per coin, coins in sorted label order."""
    labels = sorted({str(c) for c in data["coin"]}, key=natural_key)
    coin = data["coin"].astype(str).to_numpy()
    y = data["y"].to_numpy()
    heads = np.array([int(y[coin == label].sum()) for label in labels])
    flips = np.array([int((coin == label).sum()) for label in labels])
    return Counts(labels, heads, flips)


def coin_index(data: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Each flip's coin as an index into ``labels``."""
    position = {label: s for s, label in enumerate(labels)}
    return np.array([position[str(c)] for c in data["coin"]])


def example_frame(example: str) -> pd.DataFrame:
    coins, ys = [], []
    for label, (heads, flips) in EXAMPLES[example].items():
        coins += [label] * flips
        ys += [1] * heads + [0] * (flips - heads)
    return pd.DataFrame({"coin": np.array(coins, dtype=object), "y": np.array(ys)})


# --- exact: beta-binomial marginal and adaptive quadrature ---------------------------------
def log_given_omega(omega, kappa, heads, flips, free_k: FreeK | None = None):
    """log p(K, data | omega) with every theta_s integrated out (up to a constant if K is fixed;
    with K's prior if free); ``omega`` and ``kappa`` broadcast, coins along a new last axis.
    omega's Beta prior enters through :func:`omega_coordinate`."""
    omega, kappa = np.asarray(omega, float), np.asarray(kappa, float)
    a, b = beta_from_mode(omega[..., None], kappa[..., None])
    log_p = np.sum(log_evidence_bernoulli(heads, flips - heads, a, b), axis=-1)
    if free_k is not None:
        log_p = log_p + stats.gamma.logpdf(kappa - 2, free_k.shape, scale=1 / free_k.rate)
    return log_p


def _features(omega, kappa, heads, flips) -> np.ndarray:
    """Per point: [1, omega, omega^2, K, K^2, E(theta_s | omega, K, y)..., E(theta_s^2 | ...)...]."""
    a, b = beta_from_mode(omega[:, None], kappa[:, None])
    mean, sd = beta_mean_sd(a + heads, b + flips - heads)
    return np.column_stack([np.ones_like(omega), omega, omega**2, kappa, kappa**2,
                            mean, mean**2 + sd**2])


def _moments_to_checks(total: np.ndarray, n_coins: int, free: bool) -> dict[str, float]:
    """Posterior means and sds from the integrated features (the first is the mass)."""
    m = total / total[0]
    quantities = {"omega": (m[1], m[2])}
    if free:
        quantities["kappa"] = (m[3], m[4])
    for s in range(n_coins):
        quantities[f"theta[{s}]"] = (m[5 + s], m[5 + n_coins + s])
    return {f"{name}.{stat}": float(value) for name, (m1, m2) in quantities.items()
            for stat, value in (("mean", m1), ("sd", np.sqrt(max(m2 - m1**2, 0.0))))}


def exact_posterior(heads, flips, K: float | FreeK, A: float, B: float) -> dict[str, float]:
    """Posterior mean and sd of omega, every theta_s (and K if free) by adaptive cubature.

    The variables are omega on [0, 1] (or, when A or B < 1 makes omega's prior density
    infinite at 0 or 1, omega's prior quantile u, so the density cancels against the Jacobian
    and the integrand stays bounded) and, if K is free, v = log(K - 2) (smooth where the Gamma
    density of K - 2 is not) over its prior's central 1 - 2e-30; each axis is split at the
    posterior peak.
    """
    heads, flips = np.asarray(heads, float), np.asarray(flips, float)
    free = isinstance(K, FreeK)

    def log_density(x: np.ndarray) -> np.ndarray:  # x: (points, 1 or 2)
        omega, kappa, log_jacobian = _unpack(x, K, A, B)
        return log_given_omega(omega, kappa, heads, flips, K if free else None) + log_jacobian

    peak = _peak(log_density, free)
    shift = float(log_density(peak[None, :])[0])

    def integrand(x: np.ndarray) -> np.ndarray:
        omega, kappa, _ = _unpack(x, K, A, B)
        return np.exp(log_density(x) - shift)[:, None] * _features(omega, kappa, heads, flips)

    edges = [(0.0, peak[0], 1.0)] + ([(*_log_k_range(K), peak[1])] if free else [])
    edges = [sorted(axis) for axis in edges]
    total = sum(
        integrate.cubature(integrand, [axis[i] for axis, i in zip(edges, corner)],
                           [axis[i + 1] for axis, i in zip(edges, corner)],
                           rtol=QUAD_RTOL, atol=0, max_subdivisions=100_000).estimate
        for corner in np.ndindex(*(2,) * len(edges)))
    return _moments_to_checks(total, len(heads), free)


def omega_coordinate(A: float, B: float) -> tuple[Callable, Callable]:
    """How omega is integrated over or gridded: (x -> omega, x -> log of omega's Beta(A, B)
    prior density times d omega / dx). omega itself while that density is bounded; its prior
    quantile u when A or B < 1 makes the density infinite at 0 or 1 (the density then cancels
    against the Jacobian, and what is left is bounded)."""
    if min(A, B) < 1:
        return (lambda u: stats.beta.ppf(u, A, B)), (lambda u: np.zeros(np.shape(u)))
    return (lambda omega: omega), (lambda omega: stats.beta.logpdf(omega, A, B))


def _unpack(x: np.ndarray, K: float | FreeK, A: float,
            B: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """omega, K and the log of omega's prior density times |d(omega, K) / dx| from cubature
    points x = (omega's coordinate[, log(K - 2)]) (see :func:`omega_coordinate`)."""
    to_omega, log_factor = omega_coordinate(A, B)
    omega = to_omega(x[:, 0])
    log_factor = log_factor(x[:, 0])
    if isinstance(K, FreeK):
        return omega, 2 + np.exp(x[:, 1]), log_factor + x[:, 1]
    return omega, np.full_like(omega, K), log_factor


def _log_k_range(free_k: FreeK) -> tuple[float, float]:
    """log(K - 2) between the 1e-30 and 1 - 1e-30 quantiles of its Gamma prior."""
    prior = stats.gamma(free_k.shape, scale=1 / free_k.rate)
    return float(np.log(prior.ppf(1e-30))), float(np.log(prior.isf(1e-30)))


def _peak(log_density, free: bool) -> np.ndarray:
    """The posterior mode in cubature coordinates: best of a coarse grid, then Nelder-Mead."""
    omegas = lecture_grid(49)
    starts = (np.array([[w, v] for w in omegas for v in np.linspace(-6, 8, 29)]) if free
              else omegas[:, None])
    start = starts[np.argmax(log_density(starts))]
    found = optimize.minimize(lambda x: -float(log_density(x[None, :])[0]), start,
                              method="Nelder-Mead", bounds=[(1e-9, 1 - 1e-9)] + [(None, None)] * free,
                              options={"xatol": 1e-10, "fatol": 1e-13})
    return found.x


def exact_k_sweep(heads, flips, kappas, A: float, B: float) -> dict[str, np.ndarray]:
    """The exact posterior means and sds of omega and every theta_s at each fixed K in
    ``kappas``, keyed like the checks (``theta[0].mean``)."""
    answers = [exact_posterior(heads, flips, float(K), A, B) for K in kappas]
    return {name: np.array([answer[name] for answer in answers]) for name in answers[0]}


# --- exact draws (posteriordb's reference posterior) ---------------------------------------
#: cells per axis of the grid the exact draws of omega (and log(K - 2)) come from
DRAW_CELLS = {1: 20_000, 2: 1_000}


class DrawGrid(NamedTuple):
    """The law :func:`posterior_draws` grids: the log density of (omega's coordinate[, v]),
    that coordinate's map to omega (:func:`omega_coordinate`), the trimmed box, cells per axis."""
    log_density: Callable
    to_omega: Callable
    box: list[tuple[float, float]]
    cells: int


def draw_grid(heads, flips, K: float | FreeK, A: float, B: float) -> DrawGrid:
    """The grid behind the exact draws (also measured by benchmarks/posteriordb_grid_error.py)."""
    heads, flips = np.asarray(heads, float), np.asarray(flips, float)
    free = isinstance(K, FreeK)
    to_omega, log_factor = omega_coordinate(A, B)

    def log_density(x, v=None):
        omega = to_omega(x)
        kappa = 2 + np.exp(v) if free else np.full_like(omega, K)
        return (log_given_omega(omega, kappa, heads, flips, K if free else None) + log_factor(x)
                + (v if free else 0))

    bounds = [(0.0, 1.0)] + ([_log_k_range(K)] if free else [])
    return DrawGrid(log_density, to_omega, trimmed_box(log_density, bounds),
                    DRAW_CELLS[len(bounds)])


def posterior_draws(heads, flips, K: float | FreeK, A: float, B: float, size, rng) -> dict:
    """iid draws of omega (and K if free) and every theta_s, keyed by the model's names.

    (omega[, v = log(K - 2)]) comes from :func:`zoo.numerics.exact_draws.grid_draws` over the box that
    holds all but 1e-12 of the posterior per edge, DRAW_CELLS cells per axis: the midpoint
    rule's error moves no mean or sd by more than 0.014 of a 10,000-draw Monte Carlo error
    (benchmarks/posteriordb_grid_error.py, against the quadrature reference). theta_s given
    omega and K is Beta(a + z_s, b + N_s - z_s) exactly. The noncentred model's eta is a
    reparametrisation, not drawn.
    """
    heads, flips = np.asarray(heads, float), np.asarray(flips, float)
    free = isinstance(K, FreeK)
    grid = draw_grid(heads, flips, K, A, B)
    point = grid_draws(grid.log_density, grid.box, grid.cells, size, rng)
    to_omega = grid.to_omega
    omega = to_omega(point[..., 0])
    kappa = 2 + np.exp(point[..., 1]) if free else K
    a, b = beta_from_mode(omega, kappa)
    found = {"omega": omega,
             "theta": rng.beta(a[..., None] + heads, np.asarray(b)[..., None] + flips - heads)}
    if free:
        found["kappa"] = kappa
    return found


# --- grid: the lecture's method ---------------------------------------------------------------
def grid_posterior(heads, flips, K: float, A: float, B: float, size: int) -> dict[str, float]:
    """The lecture's joint grid over (omega, theta_1..theta_S), summed coin by coin given omega.

    Prior mass p(theta_j | omega_i) p(omega_i) on the grid i/(n+1); the normalising constant
    of the prior cancels in the posterior, and the joint sum factorises into
    sum_i p(omega_i) prod_s sum_j p(theta_j | omega_i) L_s(theta_j).
    """
    heads, flips = np.asarray(heads, float), np.asarray(flips, float)
    points = lecture_grid(size)
    a, b = beta_from_mode(points[:, None], K)
    log_prior_theta = stats.beta.logpdf(points[None, :], a, b)           # [omega, theta]
    log_lik = (heads[:, None] * np.log(points) + (flips - heads)[:, None] * np.log1p(-points))
    log_cond = log_prior_theta[None, :, :] + log_lik[:, None, :]         # [coin, omega, theta]
    log_sums = special.logsumexp(log_cond, axis=2)                       # [coin, omega]
    weights = np.exp(log_cond - log_sums[..., None])
    theta_m1 = weights @ points                                          # [coin, omega]
    theta_m2 = weights @ points**2
    log_w = stats.beta.logpdf(points, A, B) + log_sums.sum(axis=0)
    w = np.exp(log_w - special.logsumexp(log_w))
    quantities = {"omega": (w @ points, w @ points**2)}
    for s in range(len(heads)):
        quantities[f"theta[{s}]"] = (theta_m1[s] @ w, theta_m2[s] @ w)
    return {f"{name}.{stat}": float(value) for name, (m1, m2) in quantities.items()
            for stat, value in (("mean", m1), ("sd", np.sqrt(max(m2 - m1**2, 0.0))))}


# --- the model ------------------------------------------------------------------------------
class MintCalibration(Calibration):
    """SBC ranks omega and theta (and kappa when K is free) and simulates in numpy: forward
    sampling would ignore the noncentred parametrisation's Potential."""

    var_names = ["omega", "theta"]

    def parameters(self, settings: dict[str, Any]) -> list[str]:
        return [*self.var_names, *(["kappa"] if isinstance(settings["K"], FreeK) else [])]

    def simulate(self, model, settings, rng) -> tuple[dict[str, Any], dict[str, Any]]:
        """omega ~ Beta(A, B), K (if free), theta_s ~ Beta(mode omega, K), one flip per row of
        the default data."""
        data = self.model.default_data(settings)
        labels = coin_counts(data).labels
        K = settings["K"]
        truth = {"omega": rng.beta(settings["A"], settings["B"])}
        if isinstance(K, FreeK):
            truth["kappa"] = 2 + rng.gamma(K.shape, 1 / K.rate)
        a, b = beta_from_mode(truth["omega"], truth.get("kappa", K))
        truth["theta"] = rng.beta(a, b, size=len(labels))
        return truth, {"y": rng.binomial(1, truth["theta"][coin_index(data, labels)])}


class Mint(ZooModel):
    name = "mint"
    title = "coins from one mint: theta_s ~ Beta(mode omega, concentration K), omega ~ Beta(A, B)"
    formula = [
        r"\omega \sim \mathrm{Beta}(A, B)",
        r"\theta_s \sim \mathrm{Beta}(\omega (K - 2) + 1,\ (1 - \omega)(K - 2) + 1),\quad s = 1, \ldots, S",
        r"y_{i|s} \sim \mathrm{Bernoulli}(\theta_s)",
        r"K\ \mathrm{fixed,\ or}\ \ K - 2 \sim \mathrm{Gamma}(1.105, 0.105)\ \ (K = \mathrm{free})",
    ]
    summary = ("Several coins from one mint: each coin's bias theta_s lies around the mint's mode "
               "omega with concentration K, fixed or free under Kruschke's Gamma prior. The coins "
               "are sampled non-centred on the logit scale, so NUTS meets no funnel at large K. "
               "Checked against exact answers (each theta_s integrated out as a beta-binomial, "
               "omega and K by quadrature); the lecture's joint grid is shown beside them.")
    columns = [
        Column("coin", "label", "which coin was flipped (any label; sorted order gives theta[s])"),
        Column("y", "binary", "one flip per row: 1 heads, 0 tails"),
    ]
    settings = {
        "example": Setting("two-coins", parsers.choice(*EXAMPLES),
                           "default data without --data: two-coins (3/15, 4/5) or exercise1 (7/10)",
                           applies_to="example"),
        "K": Setting("5", parse_k, "concentration K >= 2, or free / free:MODE,SD (K-2 ~ Gamma)"),
        "A": Setting("2", parsers.positive, "omega ~ Beta(A, B)"),
        "B": Setting("2", parsers.positive, "omega ~ Beta(A, B)"),
        "param": Setting("noncentred", parsers.choice("noncentred", "centred"),
                         "how NUTS sees theta: noncentred (logit, scale-free) or centred (Beta)"),
        "grid": Setting("500", parsers.whole_number(2, "the grid size", 2_000),
                        "points per axis of the lecture's grid reference"),
    }

    def default_data(self, settings: dict[str, Any]) -> pd.DataFrame:
        return example_frame(settings["example"])

    def build(self, data: pd.DataFrame, settings: dict[str, Any]) -> pm.Model:
        counts = coin_counts(data)
        coin = coin_index(data, counts.labels)
        with pm.Model(coords={"coin": counts.labels}) as model:
            omega = pm.Beta("omega", alpha=settings["A"], beta=settings["B"])
            kappa = _kappa(settings["K"])
            a, b = beta_from_mode(omega, kappa)
            if settings["param"] == "centred":
                theta = pm.Beta("theta", alpha=a, beta=b, dims="coin")
                logit_theta = pm.math.logit(theta)
            else:
                logit_theta = _noncentred_logit_theta(a, b)
                pm.Deterministic("theta", pm.math.sigmoid(logit_theta), dims="coin")
            pm.Bernoulli("y", logit_p=logit_theta[coin], observed=data["y"].to_numpy())
        return model

    def reference(self, data: pd.DataFrame, settings: dict[str, Any]) -> Reference:
        counts = coin_counts(data)
        K, A, B = settings["K"], settings["A"], settings["B"]
        exact = exact_posterior(counts.heads, counts.flips, K, A, B)
        notes = [f"theta[{s}] is coin {label!r}: {h} heads of {n}"
                 for s, (label, h, n) in enumerate(zip(counts.labels, counts.heads, counts.flips))]
        alternatives = {"raw": {f"theta[{s}].mean": h / n  # each coin alone: no pooling
                                for s, (h, n) in enumerate(zip(counts.heads, counts.flips))}}
        if isinstance(K, FreeK):
            notes.append(f"K - 2 ~ Gamma(shape {K.shape:.6g}, rate {K.rate:.6g}); reference: 2-D "
                         "quadrature over (omega, K); no grid (it would be (S+2)-dimensional)")
        else:
            size = settings["grid"]
            grid = grid_posterior(counts.heads, counts.flips, K, A, B, size)
            alternatives["grid"] = grid
            error = max(abs(grid[name] - exact[name]) for name in exact)
            notes.append(f"grid: {size} points per axis, {len(counts.labels) + 1}-D over (omega, "
                         f"theta_s), summed coin by coin; max |grid - quadrature| = {error:.2g}")
        return Reference(method="quadrature", values=exact, alternatives=alternatives, notes=notes,
                         kind="quadrature")

    def log_posterior(self, data: pd.DataFrame, settings: dict[str, Any]):
        """The formulas of the module docstring, sharing nothing with ``build`` (the Beta shapes
        written out here, each coin's flips counted here): omega's Beta prior, K - 2's Gamma
        prior when free, each coin's Beta prior, density and Jacobian of the noncentred
        eta_s = (logit theta_s - log(a/b)) / sqrt(1/a + 1/b) when it is sampled that way, and
        the Bernoulli likelihood of every flip."""
        labels = sorted({str(c) for c in data["coin"]}, key=natural_key)
        flips = data.assign(coin=data["coin"].astype(str)).groupby("coin")["y"]
        heads = flips.sum().reindex(labels).to_numpy(float)
        tails = flips.count().reindex(labels).to_numpy(float) - heads
        K, noncentred = settings["K"], settings["param"] == "noncentred"

        def log_density(values):
            omega = values["omega"]
            log_p = stats.beta.logpdf(omega, settings["A"], settings["B"])
            if isinstance(K, FreeK):
                kappa = 2 + values["kappa_minus_two"]
                log_p += stats.gamma.logpdf(values["kappa_minus_two"], K.shape, scale=1 / K.rate)
            else:
                kappa = K
            a, b = omega * (kappa - 2) + 1, (1 - omega) * (kappa - 2) + 1
            if noncentred:
                scale = np.sqrt(1 / a + 1 / b)
                logit = np.log(a / b) + scale * values["eta"]
                log_theta, log_one_minus = special.log_expit(logit), special.log_expit(-logit)
                log_p += np.sum(log_theta + log_one_minus) + logit.size * np.log(scale)
            else:
                log_theta, log_one_minus = np.log(values["theta"]), np.log1p(-values["theta"])
            log_p += np.sum((a - 1) * log_theta + (b - 1) * log_one_minus - special.betaln(a, b))
            return float(log_p + heads @ log_theta + tails @ log_one_minus)

        return log_density

    def reference_draws(self, data, settings, chains, draws, rng):
        """omega (and K when free) from the exact posterior on a fine grid, then every theta_s
        from its exact conditional Beta (see :func:`posterior_draws`)."""
        counts = coin_counts(data)
        return posterior_draws(counts.heads, counts.flips, settings["K"], settings["A"],
                               settings["B"], (chains, draws), rng)

    # --- report plot ---------------------------------------------------------------------------
    def figures(self, result, folder: Path) -> list[tuple[str, Path]]:
        """The exact K-sweep of shrinkage (fixed K) or the posterior of K (K=free)."""
        if isinstance(result.settings["K"], FreeK):
            return [kappa_figure(result, folder)]
        return [shrinkage_figure(result, folder)]

    def calibration(self):
        return MintCalibration(self)

    def faults(self):
        return [MintA, MintK, MintSwappedShapes, MintNoJacobian, MintNoNormalTerm, MintDropLast,
                MintDuplicateLast, MintTempered]

    def posteriordb_code(self):
        return PosteriordbCode(posteriordb_pymc, posteriordb_stan, data=posteriordb_json,
                               frame=posteriordb_frame)


def sweep_kappas(K: float) -> np.ndarray:
    """The K axis of the shrinkage plot: SWEEP_K_RANGE, widened to include the run's K."""
    low, high = min(SWEEP_K_RANGE[0], K), max(SWEEP_K_RANGE[1], 2 * K)
    return np.geomspace(low, high, SWEEP_POINTS)


def shrinkage_figure(result, folder: Path) -> tuple[str, Path]:
    """Each coin's exact posterior mean +- sd against K, omega's mean, the raw proportions, and
    the run's estimates (+- posterior sd) at its K: shrinkage towards omega grows with K."""
    counts = coin_counts(result.data)
    K, A, B = (result.settings[key] for key in ("K", "A", "B"))
    kappas = sweep_kappas(K)
    sweep = exact_k_sweep(counts.heads, counts.flips, kappas, A, B)
    idata = result.fit.idata
    figure, axes = new_figure(height=4.0)
    ax = axes[0, 0]
    for s, (label, h, n) in enumerate(zip(counts.labels, counts.heads, counts.flips)):
        mean, sd = sweep[f"theta[{s}].mean"], sweep[f"theta[{s}].sd"]
        ax.plot(kappas, mean, color=f"C{s}", label=f"theta[{s}] ({label}), exact mean +- sd")
        ax.fill_between(kappas, mean - sd, mean + sd, color=f"C{s}", alpha=0.15)
        ax.axhline(h / n, color=f"C{s}", linestyle=":", label=f"{label} raw {h}/{n}")
        _run_estimate(ax, K, idata, f"theta[{s}]", f"C{s}")
    ax.plot(kappas, sweep["omega.mean"], color="black", linestyle="--", label="omega, exact mean")
    _run_estimate(ax, K, idata, "omega", "black", label=f"this run at K = {K:g} (+- sd)")
    ax.axvline(K, color="0.6", linewidth=0.8)
    ax.set(xscale="log", xlabel="K (concentration of the coins around omega)",
           ylabel="posterior mean", ylim=(0, 1))
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))  # beside: curves stay visible
    caption = (f"Shrinkage against K from the exact reference (K = {kappas[0]:g} to "
               f"{kappas[-1]:g}, {SWEEP_POINTS} values): each coin's posterior mean +- sd, "
               "omega's mean (dashed) and the raw proportions (dotted); points: this run's "
               f"estimates at K = {K:g}. `zoo sweep mint --over K=...` gives the sampled version.")
    return caption, save(figure, folder, "shrinkage")


def _run_estimate(ax, K: float, idata, scalar: str, color: str, label=None) -> None:
    """The run's posterior mean +- sd of one scalar (``theta[1]``), as a point at its K."""
    mean, sd = (posterior_estimate(idata, f"{scalar}.{stat}").value for stat in ("mean", "sd"))
    ax.errorbar(K, mean, yerr=sd, fmt="o", color=color, capsize=3, label=label)


def kappa_figure(result, folder: Path) -> tuple[str, Path]:
    """K=free: the run's draws of K, its Gamma prior, and the exact posterior mean +- sd."""
    prior = result.settings["K"]
    draws = result.fit.idata.posterior["kappa"].values.ravel()
    exact_mean, exact_sd = (result.reference.values[f"kappa.{stat}"] for stat in ("mean", "sd"))
    top = float(np.quantile(draws, 0.99))
    figure, axes = new_figure(height=3.5)
    ax = axes[0, 0]
    ax.hist(draws, bins=60, range=(2, top), density=True, color="C0", alpha=0.6,
            label=f"{result.config.sampler.upper()} draws")
    grid = np.linspace(2, top, 300)
    ax.plot(grid, stats.gamma.pdf(grid - 2, prior.shape, scale=1 / prior.rate), color="0.4",
            label=f"prior: K - 2 ~ Gamma({prior.shape:.4g}, rate {prior.rate:.4g})")
    ax.axvspan(exact_mean - exact_sd, exact_mean + exact_sd, color="C3", alpha=0.12)
    ax.axvline(exact_mean, color="C3", linestyle="--", label="exact mean +- sd")
    estimate = posterior_estimate(result.fit.idata, "kappa.mean")
    ax.set(xlabel="K", ylabel="density", xlim=(2, top),
           title=f"run's mean {estimate.value:.3g} (MCSE {estimate.mcse:.2g}), exact {exact_mean:.3g}")
    ax.legend(fontsize="small")
    caption = ("K is free, so the exact K-sweep is replaced by the posterior of K: the run's draws "
               "(up to their 99th percentile), its prior, and the exact mean +- sd by 2-D "
               "quadrature. `zoo sweep mint --over K=...` sweeps fixed values of K.")
    return caption, save(figure, folder, "kappa")


def _kappa(K: float | FreeK):
    """K as a constant, or K = 2 + Gamma(shape, rate) when it is free."""
    if isinstance(K, FreeK):
        kappa_minus_two = pm.Gamma("kappa_minus_two", alpha=K.shape, beta=K.rate)
        return pm.Deterministic("kappa", kappa_minus_two + 2)
    return K


def _noncentred_logit_theta(a, b):
    """logit theta = c + s eta with eta ~ Normal(0, 1) replaced, through a potential, by the exact
    density of eta implied by theta ~ Beta(a, b): Beta(theta) |d theta / d eta| / Normal(eta)."""
    eta = pm.Normal("eta", 0.0, 1.0, dims="coin")
    scale = pt.sqrt(1 / a + 1 / b)
    logit_theta = pt.log(a) - pt.log(b) + scale * eta
    log_theta, log_one_minus = -pt.softplus(-logit_theta), -pt.softplus(logit_theta)
    log_beta_and_jacobian = (a * log_theta + b * log_one_minus - pt.special.betaln(a, b)
                             + pt.log(scale))
    pm.Potential("theta_prior", pt.sum(log_beta_and_jacobian + 0.5 * eta**2 + 0.5 * np.log(2 * np.pi)))
    return logit_theta


# --- injected faults (zoo power; their kinds: zoo.core.faults) ----------------------------------
# on the example: coins 3/15 and 4/5, K = 5, omega ~ Beta(2, 2), noncentred


MintA = setting_fault(Mint, "A-20pct", {"A": "2.4"},
                      "omega ~ Beta(2.4, 2) instead of Beta(2, 2) (A 20 % off)")
MintK = setting_fault(Mint, "K-20pct", {"K": "6"}, "concentration K = 6 instead of 5 (20 % off)")


class MintSwappedShapes(SharedHelperFault, Mint):
    fault = "beta-shapes-swapped"
    description = ("beta_from_mode returns its shapes swapped, (b, a): theta's prior mode at "
                   "1 - omega, in the model and its reference alike")
    helper = "beta_from_mode"

    @staticmethod
    def faulty_helper(original):
        return lambda omega, kappa: original(omega, kappa)[::-1]


class MintNoJacobian(Fault, Mint):
    fault = "no-jacobian"
    description = "the noncentred Potential without the Jacobian term log s (s = sqrt(1/a + 1/b))"

    def inject(self, model, data, settings):
        a, b = _mint_shapes(model, settings)
        coins = len(model.coords["coin"])
        add_delta("jacobian", -coins * 0.5 * pt.log(1 / a + 1 / b))


class MintNoNormalTerm(Fault, Mint):
    fault = "no-normal-term"
    description = "the noncentred Potential without + eta^2 / 2: eta's Normal(0, 1) not cancelled"

    def inject(self, model, data, settings):
        add_delta("normal", -0.5 * model["eta"] ** 2)


def _mint_shapes(model, settings):
    omega, K = model["omega"], settings["K"]
    return omega * (K - 2) + 1, (1 - omega) * (K - 2) + 1


class MintDropLast(DropLast, Mint):
    pass


class MintDuplicateLast(DuplicateLast, Mint):
    pass


class MintTempered(Tempered, Mint):
    def faulty_reference(self, data, settings):
        counts = coin_counts(data)
        return exact_posterior(TEMPER * counts.heads, TEMPER * counts.flips, settings["K"],
                          settings["A"], settings["B"])


# --- written for posteriordb (zoo posteriordb export; zoo.core.posteriordb_code) ----------------
def posteriordb_json(frame: pd.DataFrame, settings: dict[str, Any]) -> dict[str, Any]:
    """Flips with each coin as 1..S in the zoo's order (theta[1] is the first label)."""
    labels = coin_counts(frame).labels
    return {"N": len(frame), "S": len(labels), "coin_labels": labels,
            "coin": (coin_index(frame, labels) + 1).tolist(), "y": frame["y"].astype(int).tolist()}


def posteriordb_frame(data: dict[str, Any]) -> pd.DataFrame:
    """The inverse of :func:`posteriordb_json`: each flip's coin label and outcome."""
    labels = data["coin_labels"]
    return pd.DataFrame({"coin": [labels[i - 1] for i in data["coin"]], "y": data["y"]})


def _free_k(settings: dict[str, Any]):
    return settings["K"] if isinstance(settings["K"], FreeK) else None


def posteriordb_pymc(settings: dict[str, Any], data: pd.DataFrame) -> str:
    free = _free_k(settings)
    kappa = (f'pm.Deterministic("kappa", pm.Gamma("kappa_minus_two", alpha={free.shape!r}, '
             f'beta={free.rate!r}) + 2)' if free else repr(float(settings["K"])))
    return f'''

def model(data):
    """Centred: theta ~ Beta(mode omega, concentration K) (the zoo samples it noncentred)."""
    coin = np.asarray(data["coin"]) - 1
    with pm.Model(coords={{"coin": data["coin_labels"]}}) as pymc_model:
        omega = pm.Beta("omega", alpha={float(settings["A"])!r}, beta={float(settings["B"])!r})
        kappa = {kappa}
        theta = pm.Beta("theta", alpha=omega * (kappa - 2) + 1,
                        beta=(1 - omega) * (kappa - 2) + 1, dims="coin")
        pm.Bernoulli("y", p=theta[coin], observed=np.asarray(data["y"]))
    return pymc_model
'''


def posteriordb_stan(settings: dict[str, Any]) -> str:
    free = _free_k(settings)
    kappa_parameter = "\n  real<lower=0> kappa_minus_two;" if free else ""
    kappa = ("transformed parameters {\n  real kappa = kappa_minus_two + 2;\n}\n" if free
             else f"transformed data {{\n  real kappa = {float(settings['K'])!r};\n}}\n")
    kappa_prior = f"\n  kappa_minus_two ~ gamma({free.shape!r}, {free.rate!r});" if free else ""
    data = """data {
  int<lower=0> N;
  int<lower=1> S;
  array[N] int<lower=1, upper=S> coin;
  array[N] int<lower=0, upper=1> y;
}
"""
    parameters = f"""parameters {{
  real<lower=0, upper=1> omega;
  vector<lower=0, upper=1>[S] theta;{kappa_parameter}
}}
"""
    return (data + (kappa if not free else "") + parameters + (kappa if free else "")
            + f"""model {{
  omega ~ beta({float(settings['A'])!r}, {float(settings['B'])!r});{kappa_prior}
  theta ~ beta(omega * (kappa - 2) + 1, (1 - omega) * (kappa - 2) + 1);
  y ~ bernoulli(theta[coin]);
}}
""")


MODEL = Mint()
