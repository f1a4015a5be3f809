"""Missing data: the lecture's 2-D Gaussian with second coordinates lost (lecture 000, "Toy
Example: 2D Gaussian"; Efron & Hastie, *Computer Age Statistical Inference*, section 9.3).

    (x1_i, x2_i) ~ Normal2(mu, Sigma), i = 1..n     x1 always observed, x2 lost at random

When only x2 goes missing the likelihood factors (Anderson 1957) into x1's marginal over every
row and the regression of x2 on x1, about a fixed centre c = m1, over the complete rows; the
prior is conjugate on each factor:

    x1_i        ~ Normal(mu1, s11)                 s11   ~ InvGamma((nu - 1)/2, psi11/2)
    x2_i | x1_i ~ Normal(a + b (x1_i - c), s22.1)  s22.1 ~ InvGamma(nu/2, psi22.1/2)
    mu1 | s11   ~ Normal(m1, s11/k)                a | s22.1 ~ Normal(m2, s22.1/k)
    b | s22.1   ~ Normal(psi12/psi11, s22.1/psi11) (a, b independent given s22.1)

with mu2 = a + b (mu1 - c), Sigma12 = b s11, Sigma22 = s22.1 + b^2 s11 and psi22.1 = psi22 -
psi12^2/psi11: exactly the Normal-inverse-Wishart Sigma ~ InvWishart(nu, Psi), mu | Sigma ~
Normal(m, Sigma/k), by default m = the means of x1 and of the given x2, Psi = diag of their
variances, nu = PRIOR_NU, k = PRIOR_K. Each lost x2 is a non-centred latent,
a + b (x1 - c) + sqrt(s22.1) z: a posteriori each z is Normal(0, 1), independent of the
parameters (PyMC's automatic imputation, the centred form, is a funnel when complete rows
are few).

Reference ``exact``: the factored posterior is closed form and drawn iid with numpy/scipy
alone, never from the PyMC model; EM's maximum likelihood (``zoo.numerics.em``) is shown beside
it. Default data: ``data/missing_data.csv`` (data/README.md). Why each choice, and what
measured it: docs/models.md, "missing-data: design notes".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core import parsers
from zoo.core.calibration import Calibration
from zoo.core.data import Column, fail_rows, read_csv, write_example_command
from zoo.core.deferred import pd, pm, pt, special, stats
from zoo.core.errors import DataError
from zoo.core.faults import Fault, OFF, SharedHelperFault, Tempered, add_delta
from zoo.core.model import DATA_DIR, Setting, ZooModel
from zoo.core.results import Reference
from zoo.numerics.em import em_gaussian_missing
from zoo.report.figures import new_figure, save

LECTURE_MEANS = (1.85, 1.0)
LECTURE_SDS = (1.0, 0.75)
LECTURE_RHO = 0.82
LECTURE_N = 40
LECTURE_SHARE = 0.5
LECTURE_SEED = 1977  # Dempster, Laird and Rubin's year
LECTURE_CSV = DATA_DIR / "missing_data.csv"

#: the regression of x2 on x1 has an intercept and a slope: EM's maximum likelihood needs at
#: least one complete row more than that for a residual variance above 0
MIN_COMPLETE = 3
#: the largest size of a value: sums of squares of up to ~1e10 rows stay finite
MAX_ABS = 1e140
#: the largest share the example may lose and keep MIN_COMPLETE complete rows
MAX_SHARE = (LECTURE_N - MIN_COMPLETE) / LECTURE_N
#: the default prior's nu and k: nu = 4 is the smallest whole nu for which Sigma has a prior
#: mean (Psi itself); k = 0.01 makes mu's prior sd 10 sigma, a hundredth of one row's weight
PRIOR_NU = 4.0
PRIOR_K = 0.01
#: iid draws of the exact posterior: their Monte Carlo error is then a sixth or less of NUTS's
#: at 4 x 1000 draws, and they take under a second
REFERENCE_DRAWS = 200_000
REFERENCE_SEED = 0
#: EM stops when the log-likelihood's relative change is below this: EM converges linearly
#: (at the rate of the share of missing information), and at zoo.numerics.em's default 1e-10 mu, sigma
#: and rho were still up to 3e-5 from the closed-form maximum with 80 % lost (here < 1e-7)
EM_TOL = 1e-15
#: the quantities checked (mean and sd of each) and their EM counterparts
QUANTITIES = ("mu[0]", "mu[1]", "sigma[0]", "sigma[1]", "rho")
#: the shares lost in the report's EM-vs-posterior figure, and the exact draws at each
FIGURE_SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FIGURE_DRAWS = 50_000


# --- settings and data ----------------------------------------------------------------------


def parse_share(text: str) -> float:
    """The share of the example's x2 values lost: 0 up to MAX_SHARE."""
    share = parsers.number(text)
    if not 0 <= share <= MAX_SHARE:
        raise ValueError(f"the share lost must lie between 0 and {MAX_SHARE:g}: the example has "
                         f"{LECTURE_N} rows and the model needs at least {MIN_COMPLETE} complete "
                         "ones (x2 regressed on x1: intercept, slope and a residual variance)")
    return share


def lost_count(share: float, n: int) -> int:
    """Rows lost at ``share`` of ``n``, rounded half up (Python's round() rounds half to even)."""
    return int(np.floor(share * n + 0.5))


def simulate_lecture(share: float = LECTURE_SHARE, n: int = LECTURE_N,
                     seed: int = LECTURE_SEED) -> pd.DataFrame:
    """The lecture's story: n points of its 2-D Gaussian, x2 lost (NaN) in a random share of
    rows. The points and the order in which rows lose x2 do not depend on ``share``."""
    rng = np.random.default_rng(seed)
    s1, s2 = LECTURE_SDS
    cov = np.array([[s1**2, LECTURE_RHO * s1 * s2], [LECTURE_RHO * s1 * s2, s2**2]])
    x = np.asarray(LECTURE_MEANS) + rng.standard_normal((n, 2)) @ np.linalg.cholesky(cov).T
    x[rng.permutation(n)[:lost_count(share, n)], 1] = np.nan
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1]})


def write_lecture_csv(path: Path = LECTURE_CSV) -> None:
    """The default data, 17 significant digits (the floats round-trip), lost x2 as empty cells."""
    simulate_lecture().to_csv(path, index=False, float_format="%.17g")


def hide_more(frame: pd.DataFrame, share: float, seed: int = LECTURE_SEED) -> pd.DataFrame:
    """``frame`` with x2 lost in further complete rows, chosen at random, until ``share`` of
    the rows have lost it (unchanged when already as many have)."""
    x2 = frame["x2"].to_numpy(dtype=float).copy()
    complete = np.flatnonzero(~np.isnan(x2))
    extra = lost_count(share, len(x2)) - (len(x2) - complete.size)
    if extra > 0:
        x2[np.random.default_rng(seed).permutation(complete)[:extra]] = np.nan
    return frame.assign(x2=x2)


def complete_rows_problem(x1: np.ndarray, x2: np.ndarray) -> str | None:
    """Why the complete rows cannot carry the regression of x2 on x1, or None."""
    given = ~np.isnan(x2)
    count = int(given.sum())
    if count < MIN_COMPLETE:
        return (f"{count} complete row{'s' * (count != 1)} (x1 and x2 both given); the model "
                f"needs at least {MIN_COMPLETE}: x2 is regressed on x1 (intercept and slope) "
                "and the residual variance must be above 0")
    design = np.column_stack([np.ones(count), x1[given]])
    _, residual, rank, _ = np.linalg.lstsq(design, x2[given], rcond=None)
    spread = np.sum((x2[given] - x2[given].mean()) ** 2)
    if rank < 2 or not residual.size or residual[0] <= 1e-12 * spread:
        return ("the complete rows (x1 and x2 both given) lie on one straight line (or share "
                "one x1): the regression of x2 on x1 leaves no residual variance to estimate")
    return None


# --- the prior ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactoredPrior:
    """The Normal-inverse-Wishart prior written on the factored parameters (module docstring).

    x1's part: s11 ~ InvGamma(shape_x1, scale_x1), mu1 | s11 ~ Normal(mean_x1, s11 / k).
    The regression's: s22.1 ~ InvGamma(shape_x2, scale_x2), and given s22.1 the level a and
    the slope b are independent normals with means ``line`` and variances s22.1 /
    ``line_precision``; the line is written about ``centre`` (a + b (x1 - centre)).
    """

    centre: float
    mean_x1: float
    k: float
    shape_x1: float
    scale_x1: float
    shape_x2: float
    scale_x2: float
    line: tuple[float, float]
    line_precision: tuple[float, float]


def niw_prior(m, k: float, nu: float, psi) -> FactoredPrior:
    """The factored form of mu | Sigma ~ Normal(m, Sigma/k), Sigma ~ InvWishart(nu, Psi)."""
    psi = np.asarray(psi, dtype=float)
    slope = psi[0, 1] / psi[0, 0]
    return FactoredPrior(centre=float(m[0]), mean_x1=float(m[0]), k=k,
                         shape_x1=(nu - 1) / 2, scale_x1=psi[0, 0] / 2,
                         shape_x2=nu / 2, scale_x2=(psi[1, 1] - slope * psi[0, 1]) / 2,
                         line=(float(m[1]), float(slope)), line_precision=(k, float(psi[0, 0])))


def default_prior(frame: pd.DataFrame) -> FactoredPrior:
    """The default prior, on the data's scale: m = the means of x1 and of the given x2,
    Psi = diag of their variances, nu = PRIOR_NU, k = PRIOR_K."""
    x1, x2 = frame["x1"].to_numpy(float), frame["x2"].dropna().to_numpy(float)
    return niw_prior((x1.mean(), x2.mean()), PRIOR_K, PRIOR_NU,
                     np.diag([x1.var(ddof=1), x2.var(ddof=1)]))


# --- the exact posterior --------------------------------------------------------------------


@dataclass(frozen=True)
class ExactPosterior:
    """The closed-form posterior of the factored parameters: two independent
    Normal-inverse-gamma laws (x1's part, and the regression's on the complete rows)."""

    centre: float
    mean_x1: float
    k_x1: float  # mu1 | s11 ~ Normal(mean_x1, s11 / k_x1)
    shape_x1: float
    scale_x1: float
    line: np.ndarray  # (level, slope) | s22.1 ~ Normal(line, s22.1 line_cov)
    line_cov: np.ndarray
    shape_x2: float
    scale_x2: float


def exact_posterior(frame: pd.DataFrame, prior: FactoredPrior) -> ExactPosterior:
    """Conjugate updates: x1's Normal-inverse-gamma by every row, the regression's by the
    complete rows (Bayesian linear regression with a Normal-inverse-gamma prior)."""
    x1, x2 = frame["x1"].to_numpy(float), frame["x2"].to_numpy(float)
    n, mean = x1.size, x1.mean()
    k_x1 = prior.k + n
    scale_x1 = (prior.scale_x1 + 0.5 * np.sum((x1 - mean) ** 2)
                + prior.k * n * (mean - prior.mean_x1) ** 2 / (2 * k_x1))
    given = ~np.isnan(x2)
    design = np.column_stack([np.ones(given.sum()), x1[given] - prior.centre])
    y = x2[given]
    precision0, line0 = np.diag(prior.line_precision), np.asarray(prior.line)
    precision = precision0 + design.T @ design
    line_cov = np.linalg.inv(precision)
    line = line_cov @ (precision0 @ line0 + design.T @ y)
    scale_x2 = prior.scale_x2 + 0.5 * (y @ y + line0 @ precision0 @ line0 - line @ precision @ line)
    return ExactPosterior(centre=prior.centre, mean_x1=(prior.k * prior.mean_x1 + n * mean) / k_x1,
                          k_x1=k_x1, shape_x1=prior.shape_x1 + n / 2, scale_x1=float(scale_x1),
                          line=line, line_cov=line_cov, shape_x2=prior.shape_x2 + given.sum() / 2,
                          scale_x2=float(scale_x2))


def derived(mean_x1, var_x1, level, slope, var_x2_given_x1, centre: float) -> dict[str, np.ndarray]:
    """mu, Sigma, sigma, rho and the intercept from draws of the factored parameters."""
    cov12 = slope * var_x1
    var_x2 = var_x2_given_x1 + slope**2 * var_x1
    mu = np.stack([mean_x1, level + slope * (mean_x1 - centre)], axis=-1)
    sigma = np.sqrt(np.stack([var_x1, var_x2], axis=-1))
    sigma_matrix = np.stack([np.stack([var_x1, cov12], -1), np.stack([cov12, var_x2], -1)], -2)
    return {"mu": mu, "Sigma": sigma_matrix, "sigma": sigma,
            "rho": cov12 / (sigma[..., 0] * sigma[..., 1]), "line_intercept": level - slope * centre}


def posterior_draws(post: ExactPosterior, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``size`` iid draws of the exact posterior: the factored parameters by the PyMC model's
    names, and mu, Sigma, sigma, rho."""
    var_x1 = post.scale_x1 / rng.gamma(post.shape_x1, size=size)
    mean_x1 = post.mean_x1 + np.sqrt(var_x1 / post.k_x1) * rng.standard_normal(size)
    var_x2 = post.scale_x2 / rng.gamma(post.shape_x2, size=size)
    line = post.line + np.sqrt(var_x2)[:, None] * (rng.standard_normal((size, 2))
                                                   @ np.linalg.cholesky(post.line_cov).T)
    factored = {"mean_x1": mean_x1, "var_x1": var_x1, "line_level": line[:, 0],
                "line_slope": line[:, 1], "var_x2_given_x1": var_x2}
    return {**factored, **derived(mean_x1, var_x1, line[:, 0], line[:, 1], var_x2, post.centre)}


def closed_form_moments(post: ExactPosterior) -> dict[str, float]:
    """Posterior mean and sd of mu[0] (a Student t), sigma[0] (the root of an inverse gamma)
    and mu[1] = a + b (mu1 - c), a product of independent parts."""
    var_x1_mean = post.scale_x1 / (post.shape_x1 - 1)
    sigma1_mean = np.sqrt(post.scale_x1) * np.exp(special.gammaln(post.shape_x1 - 0.5)
                                                  - special.gammaln(post.shape_x1))
    offset_mean, offset_var = post.mean_x1 - post.centre, var_x1_mean / post.k_x1
    line_cov = post.scale_x2 / (post.shape_x2 - 1) * post.line_cov  # marginal over s22.1
    level, slope = post.line
    slope_square = line_cov[1, 1] + slope**2  # E[b^2]; mu1 - c is independent of (a, b)
    mu2_var = (line_cov[0, 0] + slope_square * (offset_var + offset_mean**2)
               - (slope * offset_mean) ** 2 + 2 * offset_mean * line_cov[0, 1])
    return {"mu[0].mean": float(post.mean_x1), "mu[0].sd": float(np.sqrt(offset_var)),
            "mu[1].mean": float(level + slope * offset_mean), "mu[1].sd": float(np.sqrt(mu2_var)),
            "sigma[0].mean": float(sigma1_mean),
            "sigma[0].sd": float(np.sqrt(var_x1_mean - sigma1_mean**2))}


def exact_moments(frame: pd.DataFrame, draws: int, seed: int) -> tuple[dict[str, float],
                                                                       dict[str, float]]:
    """The checks' values (posterior mean and sd of each quantity) and their Monte Carlo
    errors: the closed forms where there are some (error 0), else ``draws`` iid draws."""
    posterior = exact_posterior(frame, default_prior(frame))
    values, errors = draw_moments(posterior_draws(posterior, draws, np.random.default_rng(seed)))
    closed = closed_form_moments(posterior)
    values.update(closed)
    errors.update(dict.fromkeys(closed, 0.0))
    return values, errors


def draw_moments(draws: dict[str, np.ndarray]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sd of each quantity over iid draws, with their Monte Carlo standard errors:
    sd/sqrt(N) for a mean, sqrt((m4 - s^4) / N) / (2 s) for an sd (the delta method)."""
    values, errors = {}, {}
    for name in QUANTITIES:
        x = scalar(draws, name)
        centred = x - x.mean()
        sd = x.std(ddof=1)
        values[f"{name}.mean"], errors[f"{name}.mean"] = float(x.mean()), float(sd / np.sqrt(x.size))
        values[f"{name}.sd"] = float(sd)
        errors[f"{name}.sd"] = float(np.sqrt(max(np.mean(centred**4) - sd**4, 0.0) / x.size) / (2 * sd))
    return values, errors


def scalar(values: dict[str, np.ndarray], name: str) -> np.ndarray:
    """``mu[1]`` -> values["mu"][..., 1]; ``rho`` -> values["rho"]."""
    var, _, index = name.partition("[")
    return values[var][..., int(index[:-1])] if index else values[var]


# --- maximum likelihood ---------------------------------------------------------------------


def as_quantities(mean: np.ndarray, cov: np.ndarray) -> dict[str, float]:
    """mu, sigma and rho of a mean and covariance, by check name."""
    sigma = np.sqrt(np.diag(cov))
    return {"mu[0]": float(mean[0]), "mu[1]": float(mean[1]), "sigma[0]": float(sigma[0]),
            "sigma[1]": float(sigma[1]), "rho": float(cov[0, 1] / (sigma[0] * sigma[1]))}


def em_fit(frame: pd.DataFrame) -> tuple[dict[str, float], np.ndarray]:
    """The lecture's EM: maximum-likelihood mu, sigma, rho and the log-likelihood per step."""
    mean, cov, trace = em_gaussian_missing(frame[["x1", "x2"]].to_numpy(float), tol=EM_TOL)
    return as_quantities(mean, cov), trace


def factored_mle(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The same maximum in closed form (Anderson 1957): x1's mean and variance over every row,
    least squares of x2 on x1 over the complete rows (variance divisor: the rows used)."""
    x1, x2 = frame["x1"].to_numpy(float), frame["x2"].to_numpy(float)
    given = ~np.isnan(x2)
    (b0, b1), *_ = np.linalg.lstsq(np.column_stack([np.ones(given.sum()), x1[given]]), x2[given],
                                   rcond=None)
    var_x2_given_x1 = np.mean((x2[given] - b0 - b1 * x1[given]) ** 2)
    mean1, var1 = x1.mean(), x1.var()
    mean = np.array([mean1, b0 + b1 * mean1])
    cov = np.array([[var1, b1 * var1], [b1 * var1, var_x2_given_x1 + b1**2 * var1]])
    return mean, cov


def em_distance(em: dict[str, float], values: dict[str, float]) -> dict[str, float]:
    """EM's answer minus the posterior mean, in posterior sds, by quantity (``mu[0]``, ...)."""
    return {q: float((em[q] - values[f"{q}.mean"]) / values[f"{q}.sd"]) for q in QUANTITIES}


# --- the model ------------------------------------------------------------------------------


class GaussianCalibration(Calibration):
    """SBC ranks the means, sds and correlation (the lost values' draws are not parameters)."""

    var_names = ["mu", "sigma", "rho"]


class MissingData(ZooModel):
    name = "missing-data"
    title = ("2-D Gaussian with x2 lost at random, lost values imputed; exact conjugate "
             "posterior (Anderson's factoring), EM beside it")
    formula = [
        r"(x_{1i}, x_{2i}) \sim \mathcal{N}_2(\mu, \Sigma),\quad x_{2i}\ \mathrm{lost\ at\ random}",
        r"x_{1i} \sim \mathcal{N}(\mu_1, s_{11}),\quad "
        r"x_{2i} \mid x_{1i} \sim \mathcal{N}(a + b (x_{1i} - c), s_{22.1})",
        r"\Sigma \sim \mathrm{InvWishart}(\nu, \Psi),\quad \mu \mid \Sigma \sim "
        r"\mathcal{N}(m, \Sigma / k)",
    ]
    summary = ("Pairs (x1, x2) from one bivariate normal, x2 lost at random in some rows (by "
               "default the lecture's 40 points with 20 lost). The likelihood factors into x1's "
               "normal and the regression of x2 on x1 over the complete rows; with a conjugate "
               "prior on those factors (a Normal-inverse-Wishart on mu and Sigma) the posterior "
               "is exact and drawn iid, and NUTS, which imputes every lost value, is checked "
               "against it: mean and sd of both means, both sds and the correlation. EM's "
               "maximum-likelihood answer is shown beside it, with its distance from the "
               "posterior mean in posterior sds, and the plot shows how that distance grows with "
               "the share lost.")
    columns = [Column("x1", "real", "first coordinate, always given"),
               Column("x2", "real", "second coordinate; an empty cell is a lost value",
                      nullable=True)]
    settings = {
        "missing": Setting(f"{LECTURE_SHARE:g}", parse_share,
                           f"share of the example's {LECTURE_N} x2 values lost at random",
                           applies_to="example"),
    }
    #: convergence is judged on the parameters, not on each lost value: those are the
    #: parameters plus an independent Normal(0, 1) each, and their number grows with the data,
    #: so R-hat's maximum over them crossed 1.01 by chance (4 x 500 draws, 72 lost values)
    var_names = ["mean_x1", "var_x1", "line_level", "line_slope", "var_x2_given_x1", "mu",
                 "sigma", "rho"]
    reference_seed = REFERENCE_SEED

    def calibration(self):
        return GaussianCalibration(self)

    def default_data(self, settings):
        share = settings.get("missing", LECTURE_SHARE)
        return read_csv(LECTURE_CSV, self.columns) if share == LECTURE_SHARE else simulate_lecture(share)

    def validate(self, frame, path):
        fail_rows(path, (frame[["x1", "x2"]].abs() > MAX_ABS).any(axis=1),
                  f"a value beyond {MAX_ABS:g} in size: the model's sums of squares would overflow")
        problem = complete_rows_problem(frame["x1"].to_numpy(float), frame["x2"].to_numpy(float))
        if problem:
            raise DataError(f"{path}: {problem}")

    def build(self, data, settings):
        x1, x2 = data["x1"].to_numpy(float), data["x2"].to_numpy(float)
        lost = np.isnan(x2)
        prior = default_prior(data)
        with pm.Model(coords={"coordinate": ["x1", "x2"]}) as model:
            var_x1 = pm.InverseGamma("var_x1", alpha=prior.shape_x1, beta=prior.scale_x1)
            mean_x1 = pm.Normal("mean_x1", prior.mean_x1, pt.sqrt(var_x1 / prior.k))
            var_x2 = pm.InverseGamma("var_x2_given_x1", alpha=prior.shape_x2, beta=prior.scale_x2)
            level = pm.Normal("line_level", prior.line[0],
                              pt.sqrt(var_x2 / prior.line_precision[0]))
            slope = pm.Normal("line_slope", prior.line[1],
                              pt.sqrt(var_x2 / prior.line_precision[1]))
            pm.Normal("x1", mean_x1, pt.sqrt(var_x1), observed=x1)
            pm.Normal("x2", level + slope * (x1[~lost] - prior.centre), pt.sqrt(var_x2),
                      observed=x2[~lost])
            if lost.any():
                model.add_coord("lost", np.flatnonzero(lost))
                noise = pm.Normal("x2_lost_noise", 0.0, 1.0, dims="lost")
                pm.Deterministic("x2_lost", level + slope * (x1[lost] - prior.centre)
                                 + pt.sqrt(var_x2) * noise, dims="lost")
            cov12, var2 = slope * var_x1, var_x2 + slope**2 * var_x1
            pm.Deterministic("mu", pt.stack([mean_x1, level + slope * (mean_x1 - prior.centre)]),
                             dims="coordinate")
            pm.Deterministic("Sigma", pt.stack([pt.stack([var_x1, cov12]), pt.stack([cov12, var2])]))
            pm.Deterministic("sigma", pt.sqrt(pt.stack([var_x1, var2])), dims="coordinate")
            pm.Deterministic("rho", cov12 / pt.sqrt(var_x1 * var2))
            pm.Deterministic("line_intercept", level - slope * prior.centre)
        return model

    def reference(self, data, settings):
        values, errors = exact_moments(data, REFERENCE_DRAWS, self.reference_seed)
        em, trace = em_fit(data)
        distance = {f"{q}.mean": d for q, d in em_distance(em, values).items()}
        lost = int(data["x2"].isna().sum())
        return Reference(
            method="exact", kind="exact draws", values=values, errors=errors,
            alternatives={"em": {f"{q}.mean": v for q, v in em.items()},
                          "em_minus_posterior_in_sds": distance},
            notes=[f"exact: {REFERENCE_DRAWS:,} iid draws of the conjugate posterior (seed "
                   f"{self.reference_seed}); mu[0], mu[1], sigma[0] in closed form",
                   f"{lost} of {len(data)} x2 values lost; EM converged in {trace.size - 1} "
                   "steps, its log-likelihood never falling"])

    def log_posterior(self, data, settings):
        """The module docstring's prior on the factored parameters, its m and Psi recomputed
        here from the data (not by ``default_prior``), and the likelihood as the joint
        Normal2(mu, Sigma) of each complete row and x1's Normal of each row with x2 lost;
        the lost values' noise is Normal(0, 1)."""
        x1, x2 = data["x1"].to_numpy(float), data["x2"].to_numpy(float)
        lost = np.isnan(x2)
        centre, given_mean = x1.mean(), x2[~lost].mean()
        psi11, psi22 = x1.var(ddof=1), x2[~lost].var(ddof=1)

        def log_density(values):
            s11, mu1 = values["var_x1"], values["mean_x1"]
            s22, level, slope = values["var_x2_given_x1"], values["line_level"], values["line_slope"]
            prior = (stats.invgamma.logpdf(s11, (PRIOR_NU - 1) / 2, scale=psi11 / 2)
                     + stats.norm.logpdf(mu1, centre, np.sqrt(s11 / PRIOR_K))
                     + stats.invgamma.logpdf(s22, PRIOR_NU / 2, scale=psi22 / 2)
                     + stats.norm.logpdf(level, given_mean, np.sqrt(s22 / PRIOR_K))
                     + stats.norm.logpdf(slope, 0.0, np.sqrt(s22 / psi11)))
            mu = [mu1, level + slope * (mu1 - centre)]
            sigma = [[s11, slope * s11], [slope * s11, s22 + slope**2 * s11]]
            complete_rows = np.column_stack([x1[~lost], x2[~lost]])
            likelihood = (np.sum(stats.multivariate_normal.logpdf(complete_rows, mu, sigma))
                          + np.sum(stats.norm.logpdf(x1[lost], mu1, np.sqrt(s11))))
            noise = np.sum(stats.norm.logpdf(values["x2_lost_noise"])) if lost.any() else 0.0
            return float(prior + likelihood + noise)

        return log_density

    def reference_draws(self, data: pd.DataFrame, settings: dict[str, Any], chains: int,
                        draws: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Exact iid posterior draws shaped (chains, draws, ...), keyed by the PyMC model's
        variable names (free and deterministic), lost values included."""
        prior = default_prior(data)
        values = posterior_draws(exact_posterior(data, prior), chains * draws, rng)
        x1, x2 = data["x1"].to_numpy(float), data["x2"].to_numpy(float)
        lost = np.isnan(x2)
        if lost.any():
            noise = rng.standard_normal((chains * draws, int(lost.sum())))
            values["x2_lost_noise"] = noise
            values["x2_lost"] = (values["line_level"][:, None] + values["line_slope"][:, None]
                                 * (x1[lost] - prior.centre)
                                 + np.sqrt(values["var_x2_given_x1"])[:, None] * noise)
        return {name: v.reshape(chains, draws, *v.shape[1:]) for name, v in values.items()}

    def figures(self, result, folder: Path) -> list[tuple[str, Path]]:
        """EM's answer minus the posterior mean, in posterior sds, against the share lost."""
        example = result.data.equals(self.default_data(result.settings))
        own = float(result.data["x2"].isna().mean())
        shares = [s for s in FIGURE_SHARES if example or s >= own - 1e-12]
        frames = [self.default_data({"missing": s}) if example else hide_more(result.data, s)
                  for s in shares]
        rows = [em_distance(em_fit(f)[0], exact_moments(f, FIGURE_DRAWS, REFERENCE_SEED)[0])
                for f in frames]
        figure, axes = new_figure(height=3.5)
        ax = axes[0, 0]
        for i, quantity in enumerate(QUANTITIES):
            ax.plot(shares, [row[quantity] for row in rows], "o-", color=f"C{i}", label=quantity)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(own, color="grey", linestyle=":", label="this run's data")
        ax.set(xlabel="share of x2 lost", ylabel="(EM - posterior mean) / posterior sd")
        ax.legend(fontsize="small")
        source = ("the lecture's 40 points, re-simulated at each share (the lost rows nested)"
                  if example else "the data, with x2 hidden in further random complete rows")
        caption = (f"How far EM's maximum-likelihood answer sits from the exact posterior mean as "
                   f"the share lost grows: {source}; exact posterior, no MCMC")
        return [(caption, save(figure, folder, "em_distance"))]

    def faults(self):
        return [MissingCompleteCase, MissingSdAsVariance, MissingShapeOff,
                MissingPriorFromSds, MissingTempered, MissingDuplicateX1]


# --- injected faults (zoo power; their kinds: zoo.core.faults) ----------------------------------
# on the example: 40 points, 20 second coordinates lost


class MissingCompleteCase(Fault, MissingData):
    fault = "complete-case"
    description = ("complete-case analysis: x1's likelihood only over the rows whose x2 was kept "
                   "(the incomplete rows' x1 ignored)")

    def inject(self, model, data, settings):
        lost = data["x2"].isna().to_numpy()
        rv = model["x1"]
        add_delta("complete_case", -pm.logp(rv, rv)[np.flatnonzero(lost)])


class MissingSdAsVariance(Fault, MissingData):
    fault = "sd-as-variance"
    description = "the regression of x2 on x1 given its variance s22.1 where its sd belongs"

    def inject(self, model, data, settings):
        rv = model["x2"]
        mean, sd = rv.owner.inputs[-2:]
        add_delta("sd_as_variance", pm.logp(pm.Normal.dist(mean, sd**2), rv) - pm.logp(rv, rv))


class MissingShapeOff(Fault, MissingData):
    fault = "prior-shape-20pct"
    description = "x1's variance prior InvGamma with its shape 20 % too large"

    def inject(self, model, data, settings):
        prior, var = default_prior(data), model["var_x1"]
        faulty = pm.InverseGamma.dist(alpha=OFF * prior.shape_x1, beta=prior.scale_x1)
        correct = pm.InverseGamma.dist(alpha=prior.shape_x1, beta=prior.scale_x1)
        add_delta("prior", pm.logp(faulty, var) - pm.logp(correct, var))


class MissingPriorFromSds(SharedHelperFault, MissingData):
    fault = "prior-psi-sds"
    description = ("default_prior: Psi the diagonal of the sds instead of the documented "
                   "variances, in the model and its reference alike")
    helper = "default_prior"

    @staticmethod
    def faulty_helper(original):
        def prior(frame):
            x1, x2 = frame["x1"].to_numpy(float), frame["x2"].dropna().to_numpy(float)
            return niw_prior((x1.mean(), x2.mean()), PRIOR_K, PRIOR_NU,
                             np.diag([x1.std(ddof=1), x2.std(ddof=1)]))
        return prior


class MissingTempered(Tempered, MissingData):
    pass


class MissingDuplicateX1(Fault, MissingData):
    fault = "duplicate-last-x1"
    description = "the last row's x1 counted twice"

    def inject(self, model, data, settings):
        rv = model["x1"]
        add_delta("duplicate", pm.logp(rv, rv)[-1])


MODEL = MissingData()


if __name__ == "__main__":
    write_example_command("zoo.models.missing_data", write_lecture_csv, LECTURE_CSV)
