"""Single coin (lecture 002, "a single coin", Kruschke DBDA2 ch. 6).

    theta ~ prior                          triangular: p(theta) = 4 min(theta, 1 - theta)
                                           flat:       Beta(1, 1)
                                           beta:A,B:   Beta(A, B)
    y_i   ~ Bernoulli(theta),  i = 1..N    default: 3 heads, 9 tails (the lecture's first example)

References: ``grid`` is the lecture's own computation (points i/(n+1), i = 1..n, prior mass
normalised on the grid); ``exact`` is the closed-form Beta posterior for Beta priors and
``quadrature`` (adaptive, to ~1e-10 relative error) for the triangular prior, each labelled
as what it is. Checks: theta.mean, theta.sd against it; P(D) is the evidence of the ordered
flip sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.core import parsers
from zoo.core.data import Column
from zoo.core.deferred import pd, pm, pt, special, stats
from zoo.core.faults import (DropLast, DuplicateLast, Fault, OFF, TEMPER, Tempered, add_delta,
                             setting_fault)
from zoo.core.model import Setting, ZooModel
from zoo.core.posteriordb_code import FLIPS_STAN_DATA, PosteriordbCode
from zoo.core.results import Reference
from zoo.core.sampling import smc_log_evidence
from zoo.numerics.exact import (beta_mean_sd, heads_tails, lecture_grid, log_evidence_bernoulli,
                                quadrature_moments)
from zoo.numerics.exact_draws import truncated_beta
from zoo.report.figures import new_figure, save


def parse_prior(text: str) -> tuple:
    """'triangular', 'flat' or 'beta:A,B' -> ('triangular',) / ('beta', A, B)."""
    if text == "triangular":
        return ("triangular",)
    if text == "flat":
        return ("beta", 1.0, 1.0)
    kind, _, params = text.partition(":")
    if kind == "beta":
        try:
            a, b = (float(p) for p in params.split(","))
        except ValueError:
            raise ValueError("expected beta:A,B with two numbers, e.g. beta:2,2") from None
        if a > 0 and b > 0:
            return ("beta", a, b)
        raise ValueError("Beta parameters must be positive")
    raise ValueError("expected triangular, flat or beta:A,B")


def prior_log_density(prior: tuple, theta):
    """Log prior density (normalised), the triangular one being 4 min(theta, 1 - theta)."""
    theta = np.asarray(theta, float)
    if prior[0] == "triangular":
        return np.log(4.0) + np.log(np.minimum(theta, 1 - theta))
    _, a, b = prior
    return stats.beta.logpdf(theta, a, b)


def grid_posterior(heads: int, tails: int, prior: tuple, size: int) -> dict[str, Any]:
    """The lecture's grid posterior: theta values, prior and posterior mass, mean, sd, P(D)."""
    theta = lecture_grid(size)
    log_prior = prior_log_density(prior, theta)
    prior_mass = np.exp(log_prior - log_prior.max())
    prior_mass /= prior_mass.sum()
    log_lik = heads * np.log(theta) + tails * np.log1p(-theta)
    peak = log_lik.max()
    joint = np.exp(log_lik - peak) * prior_mass
    evidence = joint.sum()
    posterior = joint / evidence
    mean = float(posterior @ theta)
    return {
        "theta": theta,
        "prior": prior_mass,
        "likelihood": np.exp(log_lik),
        "posterior": posterior,
        "mean": mean,
        "sd": float(np.sqrt(posterior @ (theta - mean) ** 2)),
        "log_evidence": float(np.log(evidence) + peak),
    }


def exact_posterior(heads: int, tails: int, prior: tuple) -> dict[str, float]:
    """Posterior mean, sd and log P(D): closed form for Beta priors, quadrature otherwise."""
    if prior[0] == "beta":
        _, a, b = prior
        mean, sd = beta_mean_sd(a + heads, b + tails)
        return {"mean": float(mean), "sd": float(sd),
                "log_evidence": float(log_evidence_bernoulli(heads, tails, a, b))}

    def log_density(theta: float) -> float:
        return float(prior_log_density(prior, theta) + heads * np.log(theta) + tails * np.log1p(-theta))

    log_evidence, mean, sd = quadrature_moments(log_density, 0.0, 1.0, breaks=(0.5,))
    return {"mean": mean, "sd": sd, "log_evidence": log_evidence}


def posterior_draws(heads: int, tails: int, prior: tuple, size, rng) -> np.ndarray:
    """iid draws of theta from its exact posterior.

    Beta prior: Beta(a + heads, b + tails). Triangular prior 4 min(theta, 1 - theta): the
    posterior is theta^(heads+1) (1-theta)^tails on [0, 1/2] and theta^heads (1-theta)^(tails+1)
    on [1/2, 1], a mixture of Beta(heads + 2, tails + 1) cut to [0, 1/2] and Beta(heads + 1,
    tails + 2) cut to [1/2, 1], weighted by each piece's integral.
    """
    if prior[0] == "beta":
        return rng.beta(prior[1] + heads, prior[2] + tails, size)
    pieces = [(heads + 2, tails + 1, 0.0, 0.5), (heads + 1, tails + 2, 0.5, 1.0)]
    log_weight = np.array([special.betaln(a, b) + np.log(stats.beta.cdf(hi, a, b) - stats.beta.cdf(lo, a, b))
                           for a, b, lo, hi in pieces])
    upper = rng.uniform(size=size) < np.exp(log_weight[1] - np.logaddexp(*log_weight))
    draws = truncated_beta(*pieces[0], size, rng)
    draws[upper] = truncated_beta(*pieces[1], size, rng)[upper]
    return draws


class SingleCoin(ZooModel):
    name = "single-coin"
    title = "one coin: quadrature (triangular prior) or closed form (Beta), the lecture's 500-point grid beside it"
    formula = [
        r"\theta \sim \mathrm{Beta}(A, B)\ \ \mathrm{or}\ \ p(\theta) = 4 \min(\theta, 1 - \theta)",
        r"y_i \sim \mathrm{Bernoulli}(\theta),\quad i = 1, \ldots, N",
    ]
    summary = ("One coin flipped N times; theta is its probability of heads, under the lecture's "
               "triangular prior by default (flat or any Beta with --set prior=). The posterior "
               "mean and sd of theta are checked against the closed-form Beta posterior "
               "(quadrature for the triangular prior); the lecture's grid is shown beside it.")
    columns = [Column("y", "binary", "one flip per row: 1 heads, 0 tails")]
    settings = {
        "prior": Setting("triangular", parse_prior, "triangular, flat or beta:A,B"),
        "grid": Setting("500", parsers.whole_number(2, "the grid size", 10**7),
                        "points of the lecture's grid reference"),
    }

    def default_data(self, settings):
        return pd.DataFrame({"y": np.repeat([1, 0], [3, 9])})

    def build(self, data, settings):
        prior = settings["prior"]
        with pm.Model() as model:
            if prior[0] == "triangular":
                theta = pm.Triangular("theta", lower=0.0, c=0.5, upper=1.0)
            else:
                theta = pm.Beta("theta", alpha=prior[1], beta=prior[2])
            pm.Bernoulli("y", p=theta, observed=data["y"].to_numpy())
        return model

    def reference(self, data, settings):
        heads, tails = heads_tails(data["y"])
        exact = exact_posterior(heads, tails, settings["prior"])
        grid = grid_posterior(heads, tails, settings["prior"], settings["grid"])
        kind = "exact" if settings["prior"][0] == "beta" else "quadrature"
        return Reference(
            method=kind, kind=kind,
            values={"theta.mean": exact["mean"], "theta.sd": exact["sd"]},
            alternatives={name: {"theta.mean": answer["mean"], "theta.sd": answer["sd"],
                            "log_evidence": answer["log_evidence"]}
                     for name, answer in ((kind, exact), ("grid", grid))},
        )

    def log_posterior(self, data, settings):
        """The prior (:func:`prior_log_density`, which the reference uses and ``build`` does not)
        times the Bernoulli likelihood of every flip."""
        y = data["y"].to_numpy(float)

        def log_density(values):
            theta = values["theta"]
            return float(prior_log_density(settings["prior"], theta)
                         + np.sum(y * np.log(theta) + (1 - y) * np.log1p(-theta)))

        return log_density

    def reference_draws(self, data, settings, chains, draws, rng):
        """theta from its exact posterior: a Beta, or for the triangular prior a mixture of two
        Betas cut at 1/2 (see :func:`posterior_draws`)."""
        heads, tails = heads_tails(data["y"])
        return {"theta": posterior_draws(heads, tails, settings["prior"], (chains, draws), rng)}

    def complete(self, fit, data, settings, config, reference):
        """SMC's log evidence beside the exact one, when the run sampled with SMC."""
        if config.sampler == "smc":
            per_chain = smc_log_evidence(fit.idata)
            fit.alternatives["smc"] = {"log_evidence": float(per_chain.mean()),
                                       "log_evidence_sd_between_chains": float(per_chain.std(ddof=1))}

    def figures(self, result, folder: Path) -> list[tuple[str, Path]]:
        """Prior, likelihood and posterior on the lecture's grid, stacked as the lecture draws them."""
        heads, tails = heads_tails(result.data["y"])
        grid = grid_posterior(heads, tails, result.settings["prior"], result.settings["grid"])
        theta = grid["theta"]
        figure, axes = new_figure(3, 1, height=2.2, sharex=True)
        panels = [
            ("prior", grid["prior"], "p(theta)", f"mean {grid['prior'] @ theta:.3f}"),
            ("likelihood", grid["likelihood"], "p(D | theta)", f"data: {heads} heads, {tails} tails"),
            ("posterior", grid["posterior"], "p(theta | D)",
             f"mean {grid['mean']:.3f}, sd {grid['sd']:.3f}, log p(D) {grid['log_evidence']:.3f}"),
        ]
        for ax, (title, values, label, text) in zip(axes[:, 0], panels):
            ax.vlines(theta, 0, values, color="C0", linewidth=0.8)
            ax.set(title=f"{title}: {text}", ylabel=label)
        density, edges = np.histogram(result.fit.idata.posterior["theta"].values, bins=50,
                                      range=(0, 1), density=True)
        posterior_ax = axes[2, 0]
        posterior_ax.stairs(density * (theta[1] - theta[0]), edges, color="C3",
                            label=f"{result.config.sampler.upper()} draws")
        posterior_ax.legend(loc="upper right")
        posterior_ax.set_xlabel("theta")
        caption = (f"Prior, likelihood and posterior on the lecture's {theta.size}-point grid "
                   "(mass per grid point); red: the run's draws, as a histogram on the same scale")
        return [(caption, save(figure, folder, "grid"))]

    def faults(self):
        return [CoinFlatPrior, CoinMode, CoinNoJacobian, CoinDropLast, CoinDuplicateLast,
                CoinTempered]

    def posteriordb_code(self):
        return PosteriordbCode(posteriordb_pymc, posteriordb_stan)


# --- injected faults (zoo power; their kinds: zoo.core.faults) ----------------------------------
# on the example: triangular prior, 3 heads and 9 tails


def _coin_counts(data) -> tuple[int, int]:
    return heads_tails(data["y"])


def _coin_values(exact: dict[str, float]) -> dict[str, float]:
    return {"theta.mean": exact["mean"], "theta.sd": exact["sd"]}


CoinFlatPrior = setting_fault(SingleCoin, "flat-prior", {"prior": "flat"},
                              "the triangular prior left out: theta ~ Beta(1, 1)", quick=True)


class CoinMode(Fault, SingleCoin):
    fault = "prior-mode-20pct"
    description = "the triangular prior's mode at 0.6 instead of 0.5 (20 % off)"
    MODE = 0.5 * OFF

    def inject(self, model, data, settings):
        theta = model["theta"]
        faulty = pm.Triangular.dist(lower=0.0, c=self.MODE, upper=1.0)
        correct = pm.Triangular.dist(lower=0.0, c=0.5, upper=1.0)
        add_delta("prior", pm.logp(faulty, theta) - pm.logp(correct, theta))

    def faulty_reference(self, data, settings):
        heads, tails = _coin_counts(data)
        mode = self.MODE

        def log_density(theta: float) -> float:
            prior = theta / mode if theta <= mode else (1 - theta) / (1 - mode)
            return float(np.log(2 * prior) + heads * np.log(theta) + tails * np.log1p(-theta))

        _, mean, sd = quadrature_moments(log_density, 0.0, 1.0, breaks=(mode,))
        return {"theta.mean": mean, "theta.sd": sd}


class CoinNoJacobian(Fault, SingleCoin):
    fault = "no-jacobian"
    description = ("theta sampled on the logit scale without the Jacobian "
                   "log theta + log(1 - theta)")
    quick = True

    def inject(self, model, data, settings):
        theta = model["theta"]
        add_delta("jacobian", -(pt.log(theta) + pt.log1p(-theta)))

    def faulty_reference(self, data, settings):
        heads, tails = _coin_counts(data)
        return _coin_values(exact_posterior(heads - 1, tails - 1, settings["prior"]))


class CoinDropLast(DropLast, SingleCoin):
    pass


class CoinDuplicateLast(DuplicateLast, SingleCoin):
    pass


class CoinTempered(Tempered, SingleCoin):
    def faulty_reference(self, data, settings):
        heads, tails = _coin_counts(data)
        return _coin_values(exact_posterior(TEMPER * heads, TEMPER * tails, settings["prior"]))


# --- written for posteriordb (zoo posteriordb export; zoo.core.posteriordb_code) ----------------
def posteriordb_pymc(settings: dict[str, Any], data: pd.DataFrame) -> str:
    return f'''

def model(data):
    with pm.Model() as pymc_model:
        theta = {_coin_prior_pymc(settings["prior"])}
        pm.Bernoulli("y", p=theta, observed=np.asarray(data["y"]))
    return pymc_model
'''


def _coin_prior_pymc(prior: tuple) -> str:
    if prior[0] == "triangular":
        return 'pm.Triangular("theta", lower=0.0, c=0.5, upper=1.0)'
    return f'pm.Beta("theta", alpha={prior[1]!r}, beta={prior[2]!r})'


def posteriordb_stan(settings: dict[str, Any]) -> str:
    prior = settings["prior"]
    line = ("target += log(fmin(theta, 1 - theta));  // triangular prior 4 min(theta, 1 - theta)"
            if prior[0] == "triangular" else f"theta ~ beta({prior[1]!r}, {prior[2]!r});")
    return FLIPS_STAN_DATA + f"""parameters {{
  real<lower=0, upper=1> theta;
}}
model {{
  {line}
  y ~ bernoulli(theta);
}}
"""


MODEL = SingleCoin()
