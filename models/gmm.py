"""Gaussian mixture, full Bayes (seed 000, "Gaussian Mixture Model" to "Compared to supervised
classification and k-means", and the "Toy Example: 2D Gaussian").

    mu      ~ Normal(m, s), ordered mu_0 < ... < mu_{K-1}   default m = mean x, s = 2 sd x
    sigma_k ~ HalfNormal(t)                                 default t = 2 sd x
    w       ~ Dirichlet(a, ..., a)                          default a = 2
    x_i     ~ sum_k w_k Normal(mu_k, sigma_k)               the labels z_i marginalised

The defaults are weakly informative on the data's own scale: every component mean lies within
the data's range and no component sd exceeds the data's sd by much, so the priors only rule out
absurd values; a = 2 adds one pseudo-count per component, which keeps a weight off exactly 0.
Default data: the lecture's generative story (mu 2, 5, 10; sigma 0.6, 0.8, 0.5; weights .4, .2,
.4; n = 10,000), simulated with a fixed seed into ``data/gmm_lecture.csv`` by
``python -m models.gmm write-data``.

Reference: the maximum-likelihood mixture by EM (``zoo.em.fit_gmm``, ten k-means++ restarts).
The checks compare posterior means of mu, sigma and w with it. The two estimands differ: the
posterior mean is not the likelihood's maximum; they differ by the prior's pull and the
posterior's skew, both O(sd / sqrt(n_k)) for a component holding n_k points. So each check's
reference error is ``ESTIMAND_SD_FRACTION`` times the MLE's asymptotic standard error (the
posterior sd by Bernstein-von Mises, from the observed information at the MLE): with |z| <= 4
the posterior mean must lie within about one posterior sd of the MLE. Also shown: k-means (hard
EM), MAP-EM (the EM library's conjugate default prior, not the priors above) and NUTS.

Multimodality: started from PyMC's jittered default point (``init=jitter``, the means at data
quantiles), a chain sometimes sits in a wrong mode of this posterior for the whole run, R-hat
~1.55 (PyMC's jitter acts on the ``ordered`` transform's log-gaps between means): 3 runs of 10
had one stuck chain (``benchmarks/gmm_stuck_chains.py``). The chains therefore start at points
dispersed around the EM optimum (two standard errors at most) without jitter, which needs
PyMC's NUTS (nutpie takes one start for all chains and jitters it): no stuck chain in 10 runs.
``zoo.diagnostics`` flags any chain that still disagrees with the others (the run then fails),
and the fit adds a note for any chain whose means sit away from EM.

Missing data (``missing_data_comparison``): the lecture's 2-D Gaussian (sigma 1 and 0.75, means
1.85 and 1, rho 0.82) with second coordinates lost; EM's maximum-likelihood mean and covariance
against the posterior means of a PyMC fit that imputes the lost values (masked observations).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from pymc.exceptions import ImputationWarning
from scipy.special import log_softmax

from zoo.compare import compare, posterior_estimate
from zoo.data import Column, read_csv
from zoo.diagnostics import STUCK_SDS, scalar_draws
from zoo.em import (MixtureFit, MixturePrior, em_gaussian_missing, fit_gmm, fit_kmeans, fit_map_gmm,
                    gmm_loglik)
from zoo.errors import DataError
from zoo.model import DATA_DIR, Fit, Reference, Setting, ZooModel
from zoo.sampling import SamplerConfig, sample_nuts

LECTURE_MEANS = (2.0, 5.0, 10.0)
LECTURE_SDS = (0.6, 0.8, 0.5)
LECTURE_WEIGHTS = (0.4, 0.2, 0.4)
LECTURE_N = 10_000
LECTURE_SEED = 20140414
LECTURE_CSV = DATA_DIR / "gmm_lecture.csv"

#: checks allow |posterior mean - MLE| up to 4 sqrt(mcse^2 + (c se)^2), about one posterior sd
ESTIMAND_SD_FRACTION = 0.25
#: EM starts are spread uniformly over +- this many standard errors around the optimum
START_SPREAD_SES = 2.0
EM_RESTARTS = 10

# the lecture's 2-D toy
TOY_MEANS = (1.85, 1.0)
TOY_SDS = (1.0, 0.75)
TOY_RHO = 0.82
TOY_N, TOY_MISSING, TOY_SEED = 100, 20, 14


# --- settings -----------------------------------------------------------------------------------


def parse_components(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise ValueError("expected a whole number of components") from None
    if k < 2:
        raise ValueError("a mixture needs at least 2 components")
    return k


def _numbers(text: str, kind: str, count: int, example: str) -> tuple[float, ...]:
    name, _, params = text.partition(":")
    try:
        values = tuple(float(p) for p in params.split(","))
    except ValueError:
        values = ()
    if name != kind or len(values) != count or not all(map(math.isfinite, values)):
        raise ValueError(f"expected auto or {example}")
    return values


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


def parse_init(text: str) -> str:
    if text not in ("em", "jitter"):
        raise ValueError("expected em (dispersed EM starts) or jitter (PyMC's default start)")
    return text


def parse_column(text: str) -> str:
    if not text:
        raise ValueError("expected a column name")
    return text


@dataclass(frozen=True)
class Priors:
    mu_mean: float
    mu_sd: float
    sigma_scale: float
    alpha: float


def resolve_priors(x: np.ndarray, settings: dict[str, Any]) -> Priors:
    """The settings' priors, with 'auto' on the data's scale (see the module docstring)."""
    spread = float(np.std(x, ddof=1))
    mu_mean, mu_sd = settings["mu_prior"] or (float(np.mean(x)), 2.0 * spread)
    sigma_scale = settings["sigma_prior"] or 2.0 * spread
    return Priors(mu_mean, mu_sd, sigma_scale, settings["w_prior"])


# --- numerics -----------------------------------------------------------------------------------


def simulate_lecture_mixture(n: int = LECTURE_N, seed: int = LECTURE_SEED) -> np.ndarray:
    """The lecture's generative story: z_i ~ Categorical(w), x_i ~ Normal(mu_z, sigma_z)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(LECTURE_WEIGHTS), p=LECTURE_WEIGHTS, size=n)
    return rng.normal(np.take(LECTURE_MEANS, labels), np.take(LECTURE_SDS, labels))


def write_lecture_csv(path: Path = LECTURE_CSV) -> None:
    """Write the default data (17 significant digits: the CSV round-trips the floats)."""
    pd.DataFrame({"x": simulate_lecture_mixture()}).to_csv(path, index=False, float_format="%.17g")


def responsibilities(x: np.ndarray, weights, means, sds) -> np.ndarray:
    """p(z_i = k | x_i), shaped (n, K)."""
    z = (x[:, None] - means) / sds
    return np.exp(log_softmax(np.log(weights) - np.log(sds) - 0.5 * z**2, axis=1))


def mixture_standard_errors(x: np.ndarray, fit: MixtureFit) -> dict[str, float]:
    """Asymptotic standard errors of the 1-D MLE: the inverse observed information, estimated by
    the outer product of per-point scores (free weights w_0..w_{K-2}; w_{K-1} = 1 - their sum)."""
    w, mu, s = fit.weights, fit.means, fit.sds
    k = w.size
    r = responsibilities(x, w, mu, s)
    dev = x[:, None] - mu
    scores = np.hstack([
        r * dev / s**2,
        r * (dev**2 / s**3 - 1.0 / s),
        r[:, :-1] / w[:-1] - r[:, -1:] / w[-1],
    ])
    cov = np.linalg.inv(scores.T @ scores)
    w_cov = cov[2 * k:, 2 * k:]
    w_var = np.append(np.diag(w_cov), w_cov.sum())
    variances = np.concatenate([np.diag(cov)[: 2 * k], w_var])
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


def chains_off_reference(idata: xr.DataTree, reference: dict[str, float]) -> dict[int, str]:
    """Chains whose mean of some parameter is over STUCK_SDS within-chain sds (the median
    over chains, as in ``zoo.diagnostics``: a stuck chain inflates the pooled sd) from the
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


def posterior_methods(idata: xr.DataTree, x: np.ndarray, seconds: float) -> dict[str, float]:
    """Posterior means and sds, the log-likelihood at the posterior means, and NUTS's speed."""
    draws = scalar_draws(idata, ["mu", "sigma", "w"])
    values = {name: float(d.mean()) for name, d in draws.items()}
    values.update({f"{name}.sd": float(d.std(ddof=1)) for name, d in draws.items()})
    k = idata.posterior["mu"].shape[-1]
    mean_of = lambda v: np.array([values[f"{v}[{j}]"] for j in range(k)])  # noqa: E731
    weights = mean_of("w")
    values["loglik"] = gmm_loglik(x, weights / weights.sum(), mean_of("mu"), mean_of("sigma") ** 2)
    ess = min(float(az.ess(d, method="bulk")) for d in draws.values())
    values.update({"wall_seconds": seconds, "min_ess_bulk": ess,
                   "min_ess_bulk_per_second": ess / seconds})
    return values


def hard_and_map_fits(x: np.ndarray, k: int, priors: Priors) -> dict[str, MixtureFit]:
    """k-means (hard EM) and MAP-EM, each from EM_RESTARTS k-means++ starts (seed 0)."""
    return {
        "kmeans": fit_kmeans(x, k, restarts=EM_RESTARTS),
        "map_em": fit_map_gmm(x, k, MixturePrior(alpha=max(priors.alpha, 1.0)),
                              restarts=EM_RESTARTS),
    }


def maximum_likelihood(x: np.ndarray, k: int) -> MixtureFit:
    """The EM optimum; a user error (exit 2) when every start collapses onto a point."""
    try:
        return fit_gmm(x, k, restarts=EM_RESTARTS)
    except ArithmeticError as err:
        raise DataError(f"EM finds no {k}-component maximum-likelihood fit ({err}); "
                        "try fewer components") from None


# --- the missing-data toy ---------------------------------------------------------------------

#: the toy's checks allow |posterior mean - MLE| up to 4 sqrt(mcse^2 + (c sd)^2), about two sds:
#: with n = 100 a covariance's posterior mean exceeds the MLE (divisor n) by ~(d + 1)/n relative,
#: ~0.2 posterior sd, and the priors move it by a similar amount
MISSING_SD_FRACTION = 0.5
TOY_QUANTITIES = {"mu[0]": "mean x1", "mu[1]": "mean x2", "cov[0]": "var x1",
                  "cov[1]": "cov x1 x2", "cov[3]": "var x2"}


def toy_covariance() -> np.ndarray:
    s1, s2 = TOY_SDS
    return np.array([[s1**2, s1 * s2 * TOY_RHO], [s1 * s2 * TOY_RHO, s2**2]])


def simulate_lecture_gaussian(n: int = TOY_N, n_missing: int = TOY_MISSING,
                              seed: int = TOY_SEED) -> np.ndarray:
    """(n, 2) draws of the lecture's 2-D Gaussian with ``n_missing`` second coordinates NaN."""
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(TOY_MEANS, toy_covariance(), size=n)
    x[rng.choice(n, size=n_missing, replace=False), 1] = np.nan
    return x


def build_gaussian_missing(x: np.ndarray) -> pm.Model:
    """Bivariate normal with NaNs as masked observations, which PyMC imputes (``x_unobserved``).

    mu ~ Normal(0, 10); Sigma by LKJ(eta = 2) with HalfNormal(5) sds: weakly informative."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0, shape=2)
        chol, _, _ = pm.LKJCholeskyCov("chol", n=2, eta=2.0, sd_dist=pm.HalfNormal.dist(5.0),
                                       compute_corr=True)
        pm.Deterministic("cov", chol @ chol.T)
        pm.MvNormal("x", mu=mu, chol=chol, observed=x)
    return model


def fit_gaussian_missing(x: np.ndarray, config: SamplerConfig) -> xr.DataTree:
    """NUTS on :func:`build_gaussian_missing` (PyMC's own NUTS: a small model compiles fast).
    The imputation is intended, so PyMC's warning about it is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ImputationWarning)
        model = build_gaussian_missing(x)
    return sample_nuts(model, config, nuts_sampler="pymc")


def missing_data_reference(x: np.ndarray, idata: xr.DataTree) -> Reference:
    """EM's maximum-likelihood mean and covariance, with reference errors of
    MISSING_SD_FRACTION posterior sds (the estimands differ, as for the mixture)."""
    mean, cov, _ = em_gaussian_missing(x)
    values = {"mu[0]": mean[0], "mu[1]": mean[1], "cov[0]": cov[0, 0], "cov[1]": cov[0, 1],
              "cov[3]": cov[1, 1]}
    return Reference("em", values={k: float(v) for k, v in values.items()},
                     errors={k: MISSING_SD_FRACTION * posterior_estimate(idata, f"{k}.sd").value
                             for k in values})


def missing_data_comparison(x: np.ndarray, idata: xr.DataTree) -> pd.DataFrame:
    """EM and the posterior side by side, one row per quantity, with the generating value, the
    posterior sd and the zoo's comparison (z, passed)."""
    reference = missing_data_reference(x, idata)
    table = compare(Fit(idata), reference).rename(columns={"reference": "em",
                                                           "estimate": "posterior_mean"})
    true = dict(zip(TOY_QUANTITIES, [*TOY_MEANS, *toy_covariance().ravel()[[0, 1, 3]]]))
    table.insert(1, "quantity", table["name"].map(TOY_QUANTITIES))
    table.insert(2, "true", table["name"].map(true))
    table.insert(5, "posterior_sd", [posterior_estimate(idata, f"{n}.sd").value
                                     for n in table["name"]])
    return table


# --- the model ----------------------------------------------------------------------------------


class GaussianMixture(ZooModel):
    name = "gmm"
    title = "1-D Gaussian mixture, labels marginalised, means ordered; NUTS from EM starts vs EM"
    columns = [Column("x", "real", "one observation per row (see --set column=)")]
    settings = {
        "components": Setting("3", parse_components, "number of mixture components K"),
        "mu_prior": Setting("auto", parse_mu_prior,
                            "normal:M,S for every mean; auto: Normal(mean x, 2 sd x)"),
        "sigma_prior": Setting("auto", parse_sigma_prior,
                               "halfnormal:S for every sd; auto: HalfNormal(2 sd x)"),
        "w_prior": Setting("dirichlet:2", parse_w_prior, "dirichlet:A, the weights' prior"),
        "init": Setting("em", parse_init, "em: chains start dispersed around the EM optimum; "
                        "jitter: PyMC's default jittered start"),
        "column": Setting("x", parse_column, "the CSV column holding the data"),
    }
    var_names = ["mu", "sigma", "w"]

    def default_data(self, settings):
        return read_csv(LECTURE_CSV, self.columns)

    def load(self, path, settings):
        """The user's CSV, reading the column named by ``column=``, or the lecture's data."""
        if path is None:
            return self.default_data(settings)
        column = settings["column"]
        frame = read_csv(path, [Column(column, "real", "")]).rename(columns={column: "x"})
        distinct = np.unique(frame["x"]).size
        if distinct < 2 * settings["components"]:
            raise DataError(f"{path}: column '{column}' has {distinct} distinct values; "
                            f"{settings['components']} components need at least "
                            f"{2 * settings['components']}")
        return frame

    def build(self, data, settings):
        x = data["x"].to_numpy()
        k = settings["components"]
        priors = resolve_priors(x, settings)
        with pm.Model(coords={"component": np.arange(k)}) as model:
            mu = pm.Normal("mu", priors.mu_mean, priors.mu_sd, dims="component",
                           transform=pm.distributions.transforms.ordered,
                           initval=np.quantile(x, (np.arange(k) + 0.5) / k))
            sigma = pm.HalfNormal("sigma", priors.sigma_scale, dims="component")
            w = pm.Dirichlet("w", a=np.full(k, priors.alpha), dims="component")
            pm.NormalMixture("x", w=w, mu=mu, sigma=sigma, observed=x)
        return model

    def reference(self, data, settings):
        x = data["x"].to_numpy()
        k = settings["components"]
        fits = {"em": maximum_likelihood(x, k),
                **hard_and_map_fits(x, k, resolve_priors(x, settings))}
        se = mixture_standard_errors(x, fits["em"])
        return Reference(
            method="em",
            values=mixture_values(fits["em"], ".mean"),
            errors={f"{name}.mean": ESTIMAND_SD_FRACTION * s for name, s in se.items()},
            methods={"em": em_method(fits["em"]), "em_se": se,
                     "kmeans": kmeans_method(fits["kmeans"]), "map_em": em_method(fits["map_em"])},
            notes=[f"posterior means vs the EM maximum-likelihood optimum: different estimands, "
                   f"so each reference error is {ESTIMAND_SD_FRACTION} x the MLE's standard "
                   "error (em_se, ~ the posterior sd)",
                   "map_em uses the EM library's conjugate default prior, not the model's"],
        )

    def fit(self, data, settings, config: SamplerConfig) -> Fit:
        """NUTS from dispersed EM starts (or PyMC's default), with its speed and a per-chain
        comparison with the EM optimum."""
        if config.sampler == "smc":
            return super().fit(data, settings, config)
        x = data["x"].to_numpy()
        model = self.build(data, settings)
        nuts = config.nuts_sampler or self.nuts_sampler
        em = maximum_likelihood(x, settings["components"])
        begin = time.perf_counter()
        if settings["init"] == "jitter":
            idata = sample_nuts(model, config, nuts_sampler=nuts)
        else:
            starts = dispersed_starts(em, mixture_standard_errors(x, em), config.chains,
                                      config.seed)
            if nuts == "pymc":
                idata = sample_nuts(model, config, nuts_sampler=nuts, initvals=starts,
                                    init="adapt_diag")
            else:  # nutpie takes one start for every chain (and jitters it)
                idata = sample_nuts(model, config, nuts_sampler=nuts, initvals=starts[0])
        fit = Fit(idata)
        fit.methods["nuts"] = posterior_methods(idata, x, time.perf_counter() - begin)
        for chain, what in chains_off_reference(idata, mixture_values(em)).items():
            fit.notes.append(f"chain {chain} disagrees with the EM optimum ({what})")
        return fit


MODEL = GaussianMixture()


def main(argv: list[str] | None = None) -> None:
    """``write-data``: (re)write data/gmm_lecture.csv; ``missing``: print the 2-D toy's table."""
    parser = argparse.ArgumentParser(prog="python -m models.gmm")
    parser.add_argument("command", choices=["write-data", "missing"])
    args = parser.parse_args(argv)
    if args.command == "write-data":
        write_lecture_csv()
        print(f"wrote {LECTURE_CSV}")
        return
    x = simulate_lecture_gaussian()
    table = missing_data_comparison(x, fit_gaussian_missing(x, SamplerConfig()))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
