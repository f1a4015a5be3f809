"""Rat tumors (lecture 000, "Hierarchical models" to "Levels of Bayes"; BDA3 section 5.3).

    p(alpha, beta)  proportional to (alpha + beta)^(-5/2)       BDA3's hyperprior (improper)
    theta_j         ~ Beta(alpha, beta),             j = 1..J   (default J = 71)
    tumors_j        ~ Binomial(rats_j, theta_j)

Sampled as BDA3 computes it: theta integrated out (tumors_j ~ BetaBinomial(rats_j, alpha,
beta)), NUTS on u = log(alpha/beta) and v = log(alpha + beta) alone, then every theta_j drawn
from its exact conditional Beta(alpha + y_j, beta + n_j - y_j) given each draw; with theta in
NUTS, nutpie's sds of alpha and beta came out biased low. The last row is the "current"
experiment (the lecture's 71st, 4 of 14), every earlier row "historical", in user data too.

Reference ``grid``: BDA3's grid over (u, v) in numpy/scipy (``grid_posterior``, not the PyMC
model), theta_j's moments from its exact conditional averaged over it. alpha and beta have no
posterior mean or sd (a heavy tail in alpha + beta), so they are checked against the posterior
truncated to the grid's box, and only where widening the box moves them by under
TAIL_TOLERANCE; u and v are always checked. Beside it, the levels of Bayes for the current
experiment (``eb_moments``, ``type2_ml``, ``type2_map``, ``full_bayes``) and, with
``compare_pooling=yes``, no, complete and partial pooling by PSIS-LOO. The lecture prints the
posterior mean as (alpha + y)/(beta + n); its number, 0.2229, is (alpha + y)/(alpha + beta + n),
which is what is computed here.

SBC (``HyperpriorCalibration``): the hyperprior is improper, so SBC draws u and v from proper
normals (SBC_PRIOR_U, SBC_PRIOR_V) that cover the default data's posterior, with the same
likelihood. Details and measurements: docs/models.md, "rat-tumors: design notes".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core import parsers
from zoo.core.calibration import Calibration
from zoo.core.data import Column, fail_rows
from zoo.core.deferred import az, optimize, pd, pm, pt, special, stats, xr
from zoo.core.errors import DataError
from zoo.core.faults import DropLast, DuplicateLast, Fault, Tempered, add_delta, observed
from zoo.core.model import DATA_DIR, Density, Setting, ZooModel
from zoo.core.posteriordb_code import PosteriordbCode
from zoo.core.results import Estimate, Fit, Reference
from zoo.core.sampling import sample_nuts
from zoo.numerics.exact import beta_mean_sd
from zoo.numerics.exact_draws import grid_draws, trimmed_box
from zoo.report.figures import save

#: posterior mass allowed beyond each edge of the grid's box
TAIL_MASS = 1e-7
#: alpha/beta checks are kept when widening the box moves them by at most this (relative)
TAIL_TOLERANCE = 0.01
#: the widest box searched for the grid, in (u, v) units around the mode
SEARCH_HALF_WIDTH_U, SEARCH_BELOW_V, SEARCH_ABOVE_V = 8.0, 12.0, 30.0
#: type-2 optima beyond this log(alpha + beta) (theta_j's spread below ~1e-3) are reported as
#: "no overdispersion": the marginal likelihood is then flat towards complete pooling
MAX_LOG_CONCENTRATION = np.log(1e5)
#: the seed of the data ``zoo bench --scaling`` simulates
SCALING_SEED = 71
#: SBC's proper prior: (mean, sd) of u = log(alpha/beta) and of v = log(alpha + beta)
SBC_PRIOR_U, SBC_PRIOR_V = (-1.8, 0.5), (2.8, 0.75)


# --- numerics ---------------------------------------------------------------------------------

def alpha_beta(u, v):
    """(alpha, beta) from u = log(alpha/beta) = logit of the mean, v = log(alpha + beta)."""
    total = np.exp(v)
    return total * special.expit(u), total * special.expit(-u)


def log_marginal_likelihood(alpha, beta, tumors, rats):
    """Beta-binomial log p(tumors | alpha, beta) without the binomial coefficients, vectorised
    over arrays of alpha and beta.

    B(a + y, b + n - y) / B(a, b) = prod_{k<y} (a + k) prod_{k<n-y} (b + k) / prod_{k<n} (a + b + k),
    summed over experiments as counts of how many exceed each k: exact at any alpha + beta,
    where differences of betaln lose every digit once alpha + beta passes ~1e8.
    """
    tumors, rats = np.asarray(tumors), np.asarray(rats)
    alpha, beta = np.asarray(alpha, float), np.asarray(beta, float)
    total = np.zeros(np.broadcast_shapes(alpha.shape, beta.shape))
    for counts, shape, sign in ((tumors, alpha, 1), (rats - tumors, beta, 1), (rats, alpha + beta, -1)):
        exceeding = (counts[:, None] > np.arange(counts.max())).sum(axis=0)
        for k, how_many in enumerate(exceeding):
            total += sign * how_many * np.log(shape + k)
    return total


def log_hyperprior(alpha, beta):
    """BDA3's p(alpha, beta) proportional to (alpha + beta)^(-5/2), as a density in (alpha, beta)."""
    return -2.5 * np.log(np.asarray(alpha) + np.asarray(beta))


def log_posterior_uv(u, v, tumors, rats):
    """Unnormalised log posterior density in (u, v): the hyperprior times the Jacobian alpha beta."""
    alpha, beta = alpha_beta(u, v)
    return (log_marginal_likelihood(alpha, beta, tumors, rats) + log_hyperprior(alpha, beta)
            + np.log(alpha) + np.log(beta))


def posterior_mode_uv(tumors, rats) -> np.ndarray:
    """The mode of the (u, v) posterior, started from the pooled mean and alpha + beta = 10."""
    pooled = np.sum(tumors) / np.sum(rats)
    start = np.array([np.log(pooled + 0.5 / np.sum(rats)) - np.log1p(-pooled + 0.5 / np.sum(rats)),
                      np.log(10.0)])
    found = optimize.minimize(lambda x: -log_posterior_uv(x[0], x[1], tumors, rats), start,
                              method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
    return found.x


def grid_box(tumors, rats, points: int = 800) -> tuple[tuple[float, float], tuple[float, float]]:
    """Bounds in u and v leaving less than TAIL_MASS of the posterior beyond each edge, read
    off a coarse grid over a much wider box around the mode."""
    mode_u, mode_v = posterior_mode_uv(tumors, rats)
    u = np.linspace(mode_u - SEARCH_HALF_WIDTH_U, mode_u + SEARCH_HALF_WIDTH_U, points)
    v = np.linspace(mode_v - SEARCH_BELOW_V, mode_v + SEARCH_ABOVE_V, points)
    weights = normalised(log_posterior_uv(u[:, None], v[None, :], tumors, rats))
    return central_range(u, weights.sum(axis=1)), central_range(v, weights.sum(axis=0))


def normalised(log_density: np.ndarray) -> np.ndarray:
    weights = np.exp(log_density - log_density.max())
    return weights / weights.sum()


def central_range(x: np.ndarray, mass: np.ndarray) -> tuple[float, float]:
    """The smallest [x_lo, x_hi] leaving at most TAIL_MASS of ``mass`` on either side."""
    cumulative = np.cumsum(mass)
    low = np.searchsorted(cumulative, TAIL_MASS)
    high = np.searchsorted(cumulative, 1 - TAIL_MASS)
    return float(x[max(low - 1, 0)]), float(x[min(high + 1, len(x) - 1)])


@dataclass
class GridPosterior:
    """BDA3's grid: cell midpoints in (u, v), their posterior mass, and the mass on the edge."""

    u: np.ndarray
    v: np.ndarray
    mass: np.ndarray  # (len(u), len(v)), sums to 1
    edge_mass: float

    @property
    def alpha_beta(self) -> tuple[np.ndarray, np.ndarray]:
        return alpha_beta(self.u[:, None], self.v[None, :])

    def expect(self, values: np.ndarray) -> float:
        return float(np.sum(self.mass * values))


def grid_posterior(tumors, rats, size: int = 500, box=None) -> GridPosterior:
    """BDA3 section 5.3: the posterior of (u, v) on a size x size midpoint grid over ``box``
    (default :func:`grid_box`)."""
    (u_lo, u_hi), (v_lo, v_hi) = box or grid_box(tumors, rats)
    u = u_lo + (np.arange(size) + 0.5) * (u_hi - u_lo) / size
    v = v_lo + (np.arange(size) + 0.5) * (v_hi - v_lo) / size
    mass = normalised(log_posterior_uv(u[:, None], v[None, :], tumors, rats))
    edge = mass[0].sum() + mass[-1].sum() + mass[1:-1, 0].sum() + mass[1:-1, -1].sum()
    return GridPosterior(u, v, mass, float(edge))


def grid_moments(grid: GridPosterior, tumors, rats) -> dict[str, float]:
    """Posterior mean and sd of u, v, alpha, beta and every theta_j (theta_j from its exact
    conditional Beta(alpha + y_j, beta + n_j - y_j) averaged over the grid)."""
    alpha, beta = grid.alpha_beta
    u, v = np.broadcast_arrays(grid.u[:, None], grid.v[None, :])
    values = {}
    for name, x in (("log_alpha_over_beta", u), ("log_alpha_plus_beta", v), ("alpha", alpha),
                    ("beta", beta)):
        mean = grid.expect(x)
        values[f"{name}.mean"] = mean
        values[f"{name}.sd"] = float(np.sqrt(grid.expect((x - mean) ** 2)))
    for j, (y, n) in enumerate(zip(tumors, rats)):
        mean_j, sd_j = beta_mean_sd(alpha + y, beta + n - y)
        mean = grid.expect(mean_j)
        values[f"theta[{j}].mean"] = mean
        values[f"theta[{j}].sd"] = float(np.sqrt(grid.expect(sd_j**2 + mean_j**2) - mean**2))
    return values


def grid_predictive(grid: GridPosterior, new_rats: int, at_least: int) -> dict[str, float]:
    """Mean, sd and P(y_new >= at_least) of the tumors in a new experiment of ``new_rats``
    rats (beta-binomial averaged over the grid)."""
    alpha, beta = grid.alpha_beta
    k = np.arange(new_rats + 1)
    log_choose = special.gammaln(new_rats + 1) - special.gammaln(k + 1) - special.gammaln(new_rats - k + 1)
    pmf = np.array([grid.expect(np.exp(log_choose[i] + special.betaln(alpha + i, beta + new_rats - i)
                                       - special.betaln(alpha, beta))) for i in k])
    mean = float(pmf @ k)
    return {"y_new.mean": mean, "y_new.sd": float(np.sqrt(pmf @ (k - mean) ** 2)),
            f"P(y_new >= {at_least})": float(pmf[at_least:].sum())}


#: cells per axis of the (u, v) grid the exact draws come from
DRAW_CELLS = 1_000


def posterior_draws(tumors, rats, size, rng) -> dict[str, np.ndarray]:
    """iid draws of every variable of the model, for posteriordb's reference posterior.

    (u, v) from :func:`zoo.numerics.exact_draws.grid_draws`: DRAW_CELLS x DRAW_CELLS cells over the part
    of the search box (the one :func:`grid_box` searches) holding all but 1e-12 of the mass per
    edge, so the draws follow the posterior up to the midpoint rule's error (at most 0.03 of a
    10,000-draw Monte Carlo error in any mean or sd: benchmarks/posteriordb_grid_error.py) and
    up to a total variation of ~4e-12 per draw from the heavy tail in alpha + beta cut off. theta_j given (alpha, beta)
    is Beta(alpha + y_j, beta + n_j - y_j) exactly.
    """
    mode_u, mode_v = posterior_mode_uv(tumors, rats)
    search = [(mode_u - SEARCH_HALF_WIDTH_U, mode_u + SEARCH_HALF_WIDTH_U),
              (mode_v - SEARCH_BELOW_V, mode_v + SEARCH_ABOVE_V)]

    def log_density(u, v):
        return log_posterior_uv(u, v, tumors, rats)

    uv = grid_draws(log_density, trimmed_box(log_density, search), DRAW_CELLS, size, rng)
    u, v = uv[..., 0], uv[..., 1]
    alpha, beta = alpha_beta(u, v)
    theta = rng.beta(alpha[..., None] + tumors, beta[..., None] + rats - tumors)
    return {"log_alpha_over_beta": u, "log_alpha_plus_beta": v, "alpha": alpha, "beta": beta,
            "theta": theta}


def eb_moments(tumors, rats) -> tuple[float, float] | None:
    """Alpha and beta whose Beta has the mean and variance (ddof 0, as the lecture) of y/n;
    None when no Beta has them (variance 0, or at least mean (1 - mean))."""
    rates = np.asarray(tumors) / np.asarray(rats)
    mean, variance = rates.mean(), rates.var()
    if variance <= 0 or variance >= mean * (1 - mean):
        return None
    total = mean * (1 - mean) / variance - 1
    return float(mean * total), float((1 - mean) * total)


def log_marginal_likelihood_gradient(alpha: float, beta: float, tumors, rats) -> np.ndarray:
    """d/d(alpha, beta) of :func:`log_marginal_likelihood`, in closed form (digammas)."""
    common = np.sum(special.digamma(alpha + beta) - special.digamma(alpha + beta + rats))
    return np.array([np.sum(special.digamma(alpha + tumors) - special.digamma(alpha)) + common,
                     np.sum(special.digamma(beta + rats - tumors) - special.digamma(beta)) + common])


def type2_optimum(tumors, rats, with_hyperprior: bool) -> tuple[float, float] | None:
    """argmax over (alpha, beta) of p(D | alpha, beta) [times p(alpha, beta)]: type-2 maximum
    likelihood, or MAP with the hyperprior. None when the optimum runs off towards alpha + beta
    -> infinity (no overdispersion: complete pooling fits best)."""
    tumors, rats = np.asarray(tumors), np.asarray(rats)

    def objective(log_ab):
        alpha, beta = np.exp(log_ab)
        value = log_marginal_likelihood(alpha, beta, tumors, rats)
        gradient = log_marginal_likelihood_gradient(alpha, beta, tumors, rats)
        if with_hyperprior:
            value, gradient = value + log_hyperprior(alpha, beta), gradient - 2.5 / (alpha + beta)
        return -float(value), -gradient * np.array([alpha, beta])

    start = np.log(alpha_beta(*posterior_mode_uv(tumors, rats)))
    found = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                              bounds=[(-15.0, MAX_LOG_CONCENTRATION + 5.0)] * 2,
                              options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000})
    alpha, beta = np.exp(found.x)
    if np.log(alpha + beta) >= MAX_LOG_CONCENTRATION:
        return None
    return float(alpha), float(beta)


def conditional_mean(alpha: float, beta: float, tumors: int, rats: int) -> float:
    """E[theta | y, n, alpha, beta] = (alpha + y) / (alpha + beta + n)."""
    return (alpha + tumors) / (alpha + beta + rats)


# --- the PyMC models --------------------------------------------------------------------------

def bda3_hyperprior():
    """u and v flat, plus the Potential log p(alpha, beta) + log alpha + log beta
    = -v/2 + log sigmoid(u) + log sigmoid(-u): BDA3's (alpha + beta)^(-5/2) in (u, v)."""
    u = pm.Flat("log_alpha_over_beta")
    v = pm.Flat("log_alpha_plus_beta")
    pm.Potential("hyperprior_and_jacobian", -0.5 * v + pt.log(pt.sigmoid(u)) + pt.log(pt.sigmoid(-u)))
    return u, v


def sbc_hyperprior():
    """The proper prior SBC draws from (see the module docstring): Normal in u and in v."""
    return (pm.Normal("log_alpha_over_beta", *SBC_PRIOR_U),
            pm.Normal("log_alpha_plus_beta", *SBC_PRIOR_V))


def hierarchical_model(tumors, rats, hyperprior=bda3_hyperprior) -> pm.Model:
    """Partial pooling with theta integrated out, in BDA3's coordinates u = log(alpha/beta),
    v = log(alpha + beta), whose prior ``hyperprior()`` creates (BDA3's by default); see
    :func:`add_conditional_theta`."""
    with pm.Model(coords={"experiment": np.arange(len(tumors))}) as model:
        u, v = hyperprior()
        alpha = pm.Deterministic("alpha", pt.exp(v) * pt.sigmoid(u))
        beta = pm.Deterministic("beta", pt.exp(v) * pt.sigmoid(-u))
        pm.BetaBinomial("tumors", alpha=alpha, beta=beta, n=rats, observed=tumors,
                        dims="experiment")
    return model


def add_conditional_theta(idata: xr.DataTree, tumors, rats, seed: int) -> None:
    """Each posterior draw's theta_j from its exact conditional Beta(alpha + y_j,
    beta + n_j - y_j), added to the posterior (dims chain, draw, experiment); the random
    numbers are a stream of ``seed`` of their own."""
    posterior = idata["posterior"].to_dataset()
    alpha = posterior["alpha"].values[..., None]
    beta = posterior["beta"].values[..., None]
    draws = np.random.default_rng([seed, 1]).beta(alpha + tumors, beta + rats - tumors)
    posterior["theta"] = (("chain", "draw", "experiment"), draws)
    idata["posterior"] = posterior.assign_coords(experiment=np.arange(len(tumors)))


def rao_blackwell_theta(posterior: xr.Dataset, tumors, rats) -> dict[str, Estimate]:
    """theta_j's posterior mean and sd from its conditional moments given each draw of
    (alpha, beta), averaged over the draws (Rao-Blackwellised: far smaller Monte Carlo error than
    from the theta draws themselves). The sd's MCSE is the delta method's: the MCSE of the mean
    of (q - 2 M m) / (2 sd), with m, q the conditional first and second moments, M = E[m]."""
    alpha = posterior["alpha"].values[..., None]
    beta = posterior["beta"].values[..., None]
    size = alpha + beta + rats
    m = (alpha + tumors) / size
    q = m * (1 - m) / (size + 1) + m**2
    estimates = {}
    for j in range(len(tumors)):
        mean = float(m[..., j].mean())
        sd = float(np.sqrt(q[..., j].mean() - mean**2))
        influence = (q[..., j] - 2 * mean * m[..., j]) / (2 * sd)
        estimates[f"theta[{j}].mean"] = Estimate(mean, float(az.mcse(m[..., j], method="mean")))
        estimates[f"theta[{j}].sd"] = Estimate(sd, float(az.mcse(influence, method="mean")))
    return estimates


def no_pooling_model(tumors, rats) -> pm.Model:
    """An independent theta_j ~ Beta(1, 1) per experiment."""
    with pm.Model(coords={"experiment": np.arange(len(tumors))}) as model:
        theta = pm.Beta("theta", 1.0, 1.0, dims="experiment")
        pm.Binomial("tumors", n=rats, p=theta, observed=tumors, dims="experiment")
    return model


def complete_pooling_model(tumors, rats) -> pm.Model:
    """One theta ~ Beta(1, 1) shared by every experiment."""
    with pm.Model(coords={"experiment": np.arange(len(tumors))}) as model:
        theta = pm.Beta("theta", 1.0, 1.0)
        pm.Binomial("tumors", n=rats, p=theta, observed=tumors, dims="experiment")
    return model


def add_log_likelihood(idata: xr.DataTree, tumors, rats) -> xr.DataTree:
    """Each experiment's binomial log-likelihood per draw, the group ArviZ's loo reads."""
    theta = idata.posterior["theta"]
    if "experiment" not in theta.dims:
        theta = theta.expand_dims(experiment=np.arange(len(tumors)), axis=-1)
    values = stats.binom.logpmf(np.asarray(tumors), np.asarray(rats), theta.values)
    idata["log_likelihood"] = xr.Dataset(
        {"tumors": (("chain", "draw", "experiment"), values)},
        coords={"chain": theta["chain"].values, "draw": theta["draw"].values,
                "experiment": np.arange(len(tumors))})
    return idata


def pooling_comparison(fits: dict[str, xr.DataTree]) -> pd.DataFrame:
    """ArviZ's PSIS-LOO comparison of the fits, best first (Pareto k reported, not warned)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        return az.compare(fits, round_to="none")


def loo_alternatives(fits: dict[str, xr.DataTree]) -> dict[str, dict[str, float]]:
    """PSIS-LOO of each fit (elpd, its se, p_loo, Pareto k) and ArviZ's comparison."""
    table = pooling_comparison(fits)
    with warnings.catch_warnings():  # the Pareto k values are reported, not warned about
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loos = {name: az.loo(idata) for name, idata in fits.items()}
    alternatives = {}
    for name, loo in loos.items():
        k = np.asarray(loo.pareto_k).ravel()
        alternatives[f"loo_{name}"] = {
            "elpd_loo": float(loo.elpd), "elpd_loo.se": float(loo.se), "p_loo": float(loo.p),
            "elpd_diff": float(table.loc[name, "elpd_diff"]), "weight": float(table.loc[name, "weight"]),
            "pareto_k.max": float(k.max()), "pareto_k > 0.7": int((k > 0.7).sum()),
        }
    return alternatives


def predictive_draws(idata: xr.DataTree, new_rats: int, seed: int) -> np.ndarray:
    """Tumors in a new experiment of ``new_rats`` rats, one per posterior draw."""
    rng = np.random.default_rng(seed)
    alpha = idata.posterior["alpha"].values
    beta = idata.posterior["beta"].values
    return rng.binomial(new_rats, rng.beta(alpha, beta))


def shrinkage_plot(result, path: Path | str) -> Path:
    """Write the lecture's shrinkage plot for a run: raw y/n against posterior means of theta_j,
    with the diagonal (no pooling) and the pooled mean (complete pooling). A Figure of its own,
    not pyplot's: the caller's matplotlib backend is left alone."""
    from matplotlib.figure import Figure

    tumors, rats = _counts(result.data)
    raw = tumors / rats
    posterior = result.fit.idata.posterior["theta"].mean(("chain", "draw")).values
    pooled = tumors.sum() / rats.sum()
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot([0, raw.max()], [0, raw.max()], color="grey", lw=1, label="no pooling (y/n)")
    axes.axhline(pooled, color="tab:red", lw=1, ls="--", label=f"complete pooling ({pooled:.3f})")
    axes.scatter(raw, posterior, s=14 + rats, alpha=0.6, label="partial pooling (posterior mean)")
    axes.scatter(raw[-1:], posterior[-1:], color="black", marker="x", label="current experiment")
    axes.set_xlabel("raw tumor rate y/n")
    axes.set_ylabel("posterior mean of theta")
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path


def pooling_plot(fits: dict[str, xr.DataTree], folder: Path | str) -> Path:
    """``folder/pooling.png``: ArviZ's comparison plot of the pooling levels, elpd_loo
    difference from the best +- its standard error (dse)."""
    plot = az.plot_compare(pooling_comparison(fits), figure_kwargs={"figsize": (6, 2.6)})
    figure = plot.viz["figure"].item()
    figure.axes[0].set_xlabel("elpd_loo difference from the best model")
    return save(figure, Path(folder), "pooling")  # cropped to fit: ArviZ's labels overflow


def _counts(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return data["tumors"].to_numpy(), data["rats"].to_numpy()


# --- the model --------------------------------------------------------------------------------

class HyperpriorCalibration(Calibration):
    """BDA3's hyperprior is improper: SBC calibrates the same likelihood under a proper prior
    (see the module docstring) and ranks the hyperparameters."""

    var_names = ["log_alpha_over_beta", "log_alpha_plus_beta", "alpha", "beta"]

    def notes(self) -> list[str]:
        return [f"the hyperprior is improper: SBC uses log(alpha/beta) ~ Normal{SBC_PRIOR_U}, "
                f"log(alpha+beta) ~ Normal{SBC_PRIOR_V} with the same likelihood, on the "
                "default data's group sizes",
                "theta is not ranked: the fit draws it exactly from its conditional "
                "Beta(alpha + y, beta + n - y) given each draw of (alpha, beta)"]

    def pymc_model(self, settings):
        return hierarchical_model(*_counts(self.model.default_data(settings)),
                                  hyperprior=sbc_hyperprior)


class RatTumors(ZooModel):
    name = "rat-tumors"
    title = "71 rat tumor experiments: hierarchical Beta-Binomial, empirical Bayes to full Bayes"
    formula = [
        r"p(\alpha, \beta) \propto (\alpha + \beta)^{-5/2}",
        r"\theta_j \sim \mathrm{Beta}(\alpha, \beta),\quad j = 1, \ldots, J",
        r"y_j \sim \mathrm{Binomial}(n_j, \theta_j)",
    ]
    summary = ("BDA3's 71 rat tumor experiments: each experiment's tumor rate theta_j comes from a "
               "common Beta(alpha, beta) under BDA3's improper hyperprior. As BDA3 computes it, "
               "theta is integrated out, NUTS runs on log(alpha/beta) and log(alpha + beta) alone, "
               "and every theta_j is drawn from its exact conditional. Checked against BDA3's "
               "grid; empirical Bayes, type-2 maximum likelihood and MAP are shown beside full "
               "Bayes, and compare_pooling=yes compares no, complete and partial pooling by LOO.")
    columns = [
        Column("tumors", "count", "rats with a tumor in the experiment"),
        # the exact reference costs ~8 s per grid at 1,000 rats and grows with the largest count
        Column("rats", "count", "rats in the experiment (1 to 10,000); the last row is the "
               "current one", maximum=10_000),
    ]
    settings = {
        "compare_pooling": Setting("no", parsers.yes_no, "yes: also fit no and complete "
                                   "pooling and compare all three by PSIS-LOO (about 9 s "
                                   "more); no: skip that comparison"),
        "grid": Setting("500", parsers.whole_number(50, "the grid size", 1_000),
                        "points per axis of BDA3's grid reference"),
        "new_rats": Setting("14", parsers.whole_number(1, "new_rats", 10_000),
                            "rats in the new experiment to predict"),
    }
    var_names = ["log_alpha_over_beta", "log_alpha_plus_beta", "alpha", "beta", "theta"]

    def default_data(self, settings):
        return pd.read_csv(DATA_DIR / "rat_tumors.csv")

    def validate(self, frame, path):
        fail_rows(path, frame["rats"] < 1, "'rats' must be at least 1")
        fail_rows(path, frame["tumors"] > frame["rats"], "'tumors' is larger than 'rats'")
        if len(frame) < 3:
            raise DataError(f"{path}: need at least 3 experiments (2 historical and the "
                            "current one, last)")
        inside = (frame["tumors"] > 0) & (frame["tumors"] < frame["rats"])
        if not inside.any():
            raise DataError(f"{path}: every experiment has 0 or all rats with tumors; the "
                            "hierarchical posterior is then improper")

    def build(self, data, settings):
        return hierarchical_model(*_counts(data))

    def calibration(self):
        return HyperpriorCalibration(self)

    def log_posterior(self, data, settings):
        """The reference's own density on (u, v), theta integrated out as in the PyMC model:
        :func:`log_posterior_uv` (``build`` calls none of it)."""
        tumors, rats = data["tumors"].to_numpy(), data["rats"].to_numpy()
        return lambda values: float(log_posterior_uv(values["log_alpha_over_beta"],
                                                     values["log_alpha_plus_beta"], tumors, rats))

    def densities(self, data, settings, built):
        """The hierarchical model, and with compare_pooling=yes the two pooling models too."""
        found = super().densities(data, settings, built)
        if not settings["compare_pooling"]:
            return found
        tumors, rats = _counts(data)

        def binomial(theta):  # Beta(1, 1) priors: a constant
            return float(np.sum(tumors * np.log(theta) + (rats - tumors) * np.log1p(-theta)))

        return [*found,
                Density("no pooling", no_pooling_model(tumors, rats),
                        lambda values: binomial(values["theta"])),
                Density("complete pooling", complete_pooling_model(tumors, rats),
                        lambda values: binomial(values["theta"]))]

    def figures(self, result, folder: Path) -> list[tuple[str, Path]]:
        """The shrinkage plot; with compare_pooling=yes also the LOO comparison of pooling levels."""
        shrinkage = shrinkage_plot(result, Path(folder) / "shrinkage.png")
        caption = ("Shrinkage: raw rate y/n against the posterior mean of each theta_j (marker "
                   "size: rats); the diagonal is no pooling, the dashed line complete pooling")
        if not result.settings["compare_pooling"]:
            return [(f"{caption}. The LOO comparison of pooling levels did not run "
                     "(--set compare_pooling=yes runs it)", shrinkage)]
        fits = {"partial_pooling": result.fit.idata, **result.fit.extra}
        comparison = ("PSIS-LOO comparison of pooling levels: elpd_loo difference from the best "
                      "model +- its standard error (higher is better)")
        return [(caption, shrinkage), (comparison, pooling_plot(fits, folder))]

    def reference(self, data, settings):
        tumors, rats = _counts(data)
        grid = grid_posterior(tumors, rats, settings["grid"])
        moments = grid_moments(grid, tumors, rats)
        values = dict(moments)
        predictive = grid_predictive(grid, settings["new_rats"], int(tumors[-1]))
        values["y_new.mean"] = predictive["y_new.mean"]
        notes = [
            f"grid {len(grid.u)}x{len(grid.v)} over log(alpha/beta) in [{grid.u[0]:.2f}, "
            f"{grid.u[-1]:.2f}], log(alpha+beta) in [{grid.v[0]:.2f}, {grid.v[-1]:.2f}]; mass on "
            f"its edge {grid.edge_mass:.1e}, beyond each edge < {TAIL_MASS:g}",
            *self._drop_tail_dependent(values, grid, tumors, rats, settings["grid"]),
            "historical experiments: every row but the last; the last is the current one",
        ]
        current = f"theta[{len(tumors) - 1}].mean"
        alternatives = {"raw": {current: float(tumors[-1] / rats[-1])}}
        notes += self._levels_of_bayes(tumors, rats, alternatives)
        point = {name: values[f"{name}.mean"] for name in ("alpha", "beta") if f"{name}.mean" in values}
        alternatives["grid_full_bayes"] = {**point, current: moments[current], **predictive}
        return Reference("grid", values, alternatives=alternatives, notes=notes, kind="grid",
                         sds={"y_new.mean": predictive["y_new.sd"]})

    @staticmethod
    def _drop_tail_dependent(values: dict, grid: GridPosterior, tumors, rats, size: int) -> list[str]:
        """Remove the alpha and beta checks that move by more than TAIL_TOLERANCE when the box
        reaches 2 further in log(alpha + beta): their value is then the truncation's, not the
        posterior's (which has none); u and v keep finite moments and are always checked."""
        box = ((grid.u[0], grid.u[-1]), (grid.v[0], grid.v[-1] + 2.0))
        wider = grid_moments(grid_posterior(tumors, rats, size, box), tumors, rats)
        notes = []
        for name in ("alpha.mean", "alpha.sd", "beta.mean", "beta.sd"):
            change = abs(wider[name] / values[name] - 1)
            verdict = "kept" if change <= TAIL_TOLERANCE else "not checked"
            notes.append(f"{name} {verdict}: {values[name]:.4g}, {wider[name]:.4g} on a box 2 "
                         f"further in log(alpha+beta) (the heavy tail)")
            if change > TAIL_TOLERANCE:
                del values[name]
        return notes

    @staticmethod
    def _levels_of_bayes(tumors, rats, alternatives: dict) -> list[str]:
        """eb_moments, type2_ml, type2_map from the historical rows; notes for those that fail."""
        historical = slice(0, len(tumors) - 1)
        current = f"theta[{len(tumors) - 1}].mean"
        answers = {
            "eb_moments": eb_moments(tumors[historical], rats[historical]),
            "type2_ml": type2_optimum(tumors[historical], rats[historical], with_hyperprior=False),
            "type2_map": type2_optimum(tumors[historical], rats[historical], with_hyperprior=True),
        }
        notes = []
        for name, answer in answers.items():
            if answer is None:
                notes.append(f"{name}: no finite (alpha, beta): the historical rates are not "
                             "overdispersed, so complete pooling is the limit")
                continue
            alpha, beta = answer
            alternatives[name] = {"alpha": alpha, "beta": beta,
                             current: float(conditional_mean(alpha, beta, tumors[-1], rats[-1]))}
        return notes

    def reference_draws(self, data, settings, chains, draws, rng):
        """(u, v) from the exact posterior on a fine grid, then every theta_j from its exact
        conditional Beta (see :func:`posterior_draws`)."""
        return posterior_draws(*_counts(data), (chains, draws), rng)

    def nuts_options(self, data, settings, reference):
        """Start at the pooled mean with alpha + beta = 10, inside the posterior's bulk."""
        tumors, rats = _counts(data)
        pooled = (tumors.sum() + 0.5) / (rats.sum() + 1.0)
        return {"initvals": {"log_alpha_over_beta": float(np.log(pooled / (1 - pooled))),
                             "log_alpha_plus_beta": float(np.log(10.0))}}

    def complete(self, fit, data, settings, config, reference):
        """theta drawn given each (alpha, beta) draw and its Rao-Blackwell estimates; the
        full-Bayes answers beside the classical ones; optionally the pooling comparison."""
        tumors, rats = _counts(data)
        idata = fit.idata
        add_conditional_theta(idata, tumors, rats, config.seed)
        fit.estimates.update(rao_blackwell_theta(idata.posterior, tumors, rats))
        self._full_bayes(fit, tumors, rats, settings["new_rats"], config.seed)
        if settings["compare_pooling"]:
            fit.extra = {
                "no_pooling": sample_nuts(no_pooling_model(tumors, rats), config, seed_offset=1),
                "complete_pooling": sample_nuts(complete_pooling_model(tumors, rats), config,
                                                seed_offset=2),
            }
            fits = {"partial_pooling": idata, **fit.extra}
            for each in fits.values():
                add_log_likelihood(each, tumors, rats)
            fit.alternatives.update(loo_alternatives(fits))
            fit.notes += [f"{name}: PSIS-LOO is unreliable for {values['pareto_k > 0.7']} "
                          "experiment(s) with Pareto k > 0.7"
                          for name, values in fit.alternatives.items() if values.get("pareto_k > 0.7")]

    @staticmethod
    def _full_bayes(fit: Fit, tumors, rats, new_rats: int, seed: int) -> None:
        """NUTS's answers beside the classical ones, and the predictive mean as a check."""
        posterior = fit.idata.posterior
        current = len(tumors) - 1
        mean_rate = (posterior["alpha"] / (posterior["alpha"] + posterior["beta"])).values
        fit.estimates["y_new.mean"] = Estimate(float(new_rats * mean_rate.mean()),
                                               float(new_rats * az.mcse(mean_rate)))
        new = predictive_draws(fit.idata, new_rats, seed)
        fit.alternatives["full_bayes"] = {
            "alpha": float(posterior["alpha"].mean()), "beta": float(posterior["beta"].mean()),
            f"theta[{current}].mean": fit.estimates[f"theta[{current}].mean"].value,
            "y_new.mean": float(new.mean()), "y_new.sd": float(new.std(ddof=1)),
            f"P(y_new >= {tumors[-1]})": float((new >= tumors[-1]).mean()),
        }

    def faults(self):
        return [RatExponent, RatNoJacobian, RatRatsPlusOne, RatDropLast, RatDuplicateLast,
                RatTempered]

    def posteriordb_code(self):
        return PosteriordbCode(posteriordb_pymc, posteriordb_stan)

    def scaling_data(self, size):
        """``size`` experiments simulated from the bundled data's posterior means of alpha and
        beta, each one's rats drawn from the bundled counts (SCALING_SEED)."""
        settings = self.parse_settings([])
        bundled = self.default_data(settings)
        values = self.reference(bundled, settings).values
        rng = np.random.default_rng(SCALING_SEED)
        rats = rng.choice(bundled["rats"].to_numpy(), size=size)
        theta = rng.beta(values["alpha.mean"], values["beta.mean"], size=size)
        return pd.DataFrame({"tumors": rng.binomial(rats, theta), "rats": rats})


# --- injected faults (zoo power; their kinds: zoo.core.faults) ----------------------------------
# on the example: 71 experiments, BDA3's hyperprior in (u, v)


class RatFault(Fault):
    """Rat tumors' exact answer for a faulty density: BDA3's grid, as ``reference`` computes
    it, with the faulty log density ``log_density(u, v, tumors, rats)`` in (u, v); theta_j's
    moments from its conditional given the true data (as the fit draws them)."""

    def log_density(self, u, v, tumors, rats):
        return log_posterior_uv(u, v, tumors, rats)

    def faulty_reference(self, data, settings):
        tumors, rats = data["tumors"].to_numpy(), data["rats"].to_numpy()
        grid = _faulty_grid(lambda u, v: self.log_density(u, v, tumors, rats),
                            posterior_mode_uv(tumors, rats), settings["grid"])
        values = grid_moments(grid, tumors, rats)
        values["y_new.mean"] = grid_predictive(grid, settings["new_rats"], int(tumors[-1]))["y_new.mean"]
        return values


def _faulty_grid(log_density, mode, size: int, coarse: int = 800) -> GridPosterior:
    """A midpoint grid over the box leaving < TAIL_MASS beyond each edge, found on a coarse
    grid around ``mode`` as ``zoo.models.rat_tumors.grid_box`` does."""
    u = np.linspace(mode[0] - SEARCH_HALF_WIDTH_U, mode[0] + SEARCH_HALF_WIDTH_U, coarse)
    v = np.linspace(mode[1] - SEARCH_BELOW_V, mode[1] + SEARCH_ABOVE_V, coarse)
    weights = normalised(log_density(u[:, None], v[None, :]))
    (u_lo, u_hi), (v_lo, v_hi) = central_range(u, weights.sum(1)), central_range(v, weights.sum(0))
    u = u_lo + (np.arange(size) + 0.5) * (u_hi - u_lo) / size
    v = v_lo + (np.arange(size) + 0.5) * (v_hi - v_lo) / size
    mass = normalised(log_density(u[:, None], v[None, :]))
    edge = mass[0].sum() + mass[-1].sum() + mass[1:-1, 0].sum() + mass[1:-1, -1].sum()
    return GridPosterior(u, v, mass, float(edge))


class RatExponent(RatFault, RatTumors):
    fault = "hyperprior-exponent-20pct"
    description = "hyperprior (alpha + beta)^(-3) instead of ^(-5/2) (exponent 20 % off)"

    def inject(self, model, data, settings):
        add_delta("hyperprior", -0.5 * model["log_alpha_plus_beta"])

    def log_density(self, u, v, tumors, rats):
        return log_posterior_uv(u, v, tumors, rats) - 0.5 * v


class RatNoJacobian(RatFault, RatTumors):
    fault = "no-jacobian"
    description = ("hyperprior in (u, v) without the Jacobian log alpha + log beta of "
                   "(u, v) -> (alpha, beta)")

    def inject(self, model, data, settings):
        add_delta("jacobian", -(pt.log(model["alpha"]) + pt.log(model["beta"])))

    def log_density(self, u, v, tumors, rats):
        alpha, beta = alpha_beta(u, v)
        return log_posterior_uv(u, v, tumors, rats) - np.log(alpha) - np.log(beta)


class RatRatsPlusOne(RatFault, RatTumors):
    fault = "rats-plus-one"
    description = "off by one: every experiment's rats n_j + 1 in the likelihood"

    def inject(self, model, data, settings):
        tumors, rats = observed(model), data["rats"].to_numpy()
        alpha, beta = model["alpha"], model["beta"]

        def log_likelihood(n):
            return pm.logp(pm.BetaBinomial.dist(n=n, alpha=alpha, beta=beta), tumors)

        add_delta("count", log_likelihood(rats + 1) - log_likelihood(rats))

    def log_density(self, u, v, tumors, rats):
        alpha, beta = alpha_beta(u, v)
        return (log_posterior_uv(u, v, tumors, rats) - log_marginal_likelihood(alpha, beta, tumors, rats)
                + log_marginal_likelihood(alpha, beta, tumors, rats + 1))


class RatReweighted(RatFault):
    """Rows reweighted: the grid's log-likelihood is sum_j w_j l_j."""

    def log_density(self, u, v, tumors, rats):
        alpha, beta = alpha_beta(u, v)
        weights = self.weights(tumors.shape)
        extra = sum((w - 1) * log_marginal_likelihood(alpha, beta, tumors[weights == w],
                                                     rats[weights == w])
                    for w in np.unique(weights) if w != 1)
        return log_posterior_uv(u, v, tumors, rats) + extra


class RatDropLast(RatReweighted, DropLast, RatTumors):
    description = "the last (current) experiment dropped from the likelihood"


class RatDuplicateLast(RatReweighted, DuplicateLast, RatTumors):
    pass


class RatTempered(RatReweighted, Tempered, RatTumors):
    pass


# --- written for posteriordb (zoo posteriordb export; zoo.core.posteriordb_code) ----------------
def posteriordb_pymc(settings: dict[str, Any], data: pd.DataFrame) -> str:
    return '''

def model(data):
    """BDA3 5.3: (u, v) = (log(alpha/beta), log(alpha + beta)) flat plus the potential of
    p(alpha, beta) ~ (alpha + beta)^(-5/2) and the Jacobian alpha beta; theta sampled (the zoo
    integrates it out and draws it from its conditional Beta)."""
    tumors, rats = np.asarray(data["tumors"]), np.asarray(data["rats"])
    with pm.Model(coords={"experiment": np.arange(len(tumors))}) as pymc_model:
        u = pm.Flat("log_alpha_over_beta")
        v = pm.Flat("log_alpha_plus_beta")
        pm.Potential("hyperprior_and_jacobian",
                     -0.5 * v + pm.math.log(pm.math.sigmoid(u)) + pm.math.log(pm.math.sigmoid(-u)))
        alpha = pm.Deterministic("alpha", pm.math.exp(v) * pm.math.sigmoid(u))
        beta = pm.Deterministic("beta", pm.math.exp(v) * pm.math.sigmoid(-u))
        theta = pm.Beta("theta", alpha=alpha, beta=beta, dims="experiment")
        pm.Binomial("tumors", n=rats, p=theta, observed=tumors, dims="experiment")
    return pymc_model
'''


def posteriordb_stan(settings: dict[str, Any]) -> str:
    return """data {
  int<lower=1> N;
  array[N] int<lower=0> tumors;
  array[N] int<lower=1> rats;
}
parameters {
  real log_alpha_over_beta;
  real log_alpha_plus_beta;
  vector<lower=0, upper=1>[N] theta;
}
transformed parameters {
  real<lower=0> alpha = exp(log_alpha_plus_beta) * inv_logit(log_alpha_over_beta);
  real<lower=0> beta = exp(log_alpha_plus_beta) * inv_logit(-log_alpha_over_beta);
}
model {
  // BDA3's p(alpha, beta) ~ (alpha + beta)^(-5/2), times the Jacobian alpha beta of (u, v)
  target += -2.5 * log(alpha + beta) + log(alpha) + log(beta);
  theta ~ beta(alpha, beta);
  tumors ~ binomial(rats, theta);
}
"""


MODEL = RatTumors()
