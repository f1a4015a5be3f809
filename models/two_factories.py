"""Two factories (lecture 002, Exercise 2; Kruschke DBDA2 section 10.2): model comparison.

    m        ~ Categorical(prior)                     which factory made the coin
    theta    ~ Beta(omega_m (kappa - 2) + 1, (1 - omega_m)(kappa - 2) + 1)
    y_i      ~ Bernoulli(theta)                       default: 7 heads in 10 flips
    omega = (0.25, 0.75), kappa = 6, prior = (0.5, 0.5)

Reference ``exact``: each factory's evidence p(y | m) = B(a_m + z, b_m + N - z) / B(a_m, b_m),
the log Bayes factor of factory 1 over factory 2 and the posterior factory probabilities.

PyMC, both ways: (a) the factory index marginalised out, each factory with its own theta whose
pseudo-prior is its prior (Carlin & Chib 1995), p_factory = E[p(m | theta, y) | y] estimated from
the draws (Rao-Blackwell); the number of heads carries all the information about m;
(b) SMC's log evidence of each factory's own model (proper priors, no Potential), whose
difference estimates the log Bayes factor.

What the lecture printed: p(factory 1 | D) = 0.1415 for kappa = 6 and 0.000314 for kappa = 202.
Its solution code gives 0.25 and 0.0160 (this module's ``exact``). The printed values are those
of the exercise's hint, whose marginal likelihood has a bug, ``betaln(z + 1, N - z + b)``
where ``betaln(z + a, N - z + b)`` is meant (tests/test_two_factories.py reproduces both).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core import parsers
from zoo.core.calibration import Calibration
from zoo.core.compare import posterior_estimate
from zoo.core.data import Column
from zoo.core.deferred import pd, pm, special, stats
from zoo.core.faults import Fault, Tempered, setting_fault
from zoo.core.model import Density, Setting, ZooModel
from zoo.core.posteriordb_code import FLIPS_STAN_DATA, PosteriordbCode
from zoo.core.results import Estimate, Reference
from zoo.core.sampling import SamplerConfig, sample_smc, smc_log_evidence
from zoo.numerics.exact import beta_from_mode, heads_tails, log_evidence_bernoulli
from zoo.report.figures import new_figure, save

#: SMC runs at least this many chains per factory: the MCSE of the log Bayes factor is
#: estimated from the spread between chains, and fewer would make that estimate too noisy
SMC_MIN_CHAINS = 8
#: Gauss-Legendre nodes per axis for p_factory's exact posterior sd
SD_NODES = 400


def parse_pair(name: str, lower: float, upper: float, total: float | None = None):
    """A parser for 'x,y' with both values in (lower, upper), optionally summing to ``total``."""

    def parse(text: str) -> tuple[float, float]:
        values = parsers.numbers(text, 2, "0.25,0.75")
        if not all(lower < v < upper for v in values):
            raise ValueError(f"each {name} must lie strictly between {lower:g} and {upper:g}")
        if total is not None and not np.isclose(sum(values), total):
            raise ValueError(f"the {name} values must sum to {total:g}")
        return values

    return parse


def exact_comparison(heads: int, tails: int, omega, kappa: float, prior) -> dict[str, float]:
    """Each factory's log evidence, the log Bayes factor (1 over 2) and p(factory | y)."""
    a, b = beta_from_mode(np.asarray(omega), kappa)
    log_evidence = log_evidence_bernoulli(heads, tails, a, b)
    log_joint = np.log(prior) + log_evidence
    posterior = np.exp(log_joint - special.logsumexp(log_joint))
    return {
        "log_evidence[0]": float(log_evidence[0]),
        "log_evidence[1]": float(log_evidence[1]),
        "log_bf": float(log_evidence[0] - log_evidence[1]),
        "p_factory[0]": float(posterior[0]),
        "p_factory[1]": float(posterior[1]),
    }


def p_factory_sd(heads: int, tails: int, omega, kappa: float, prior) -> float:
    """The exact posterior sd of p_factory[0] (that of p_factory[1] = 1 - p_factory[0] too).

    p_factory[0] = p(m = 1 | theta, y) is the variable whose posterior mean is checked, so a
    method's bias on it is measured in its own posterior sd, as every other mean check is. It
    is smaller than the sd of the factory's indicator, sqrt(p (1 - p)), by
    E[p_factory (1 - p_factory)] in variance (total variance). The posterior of the two thetas
    is the mixture p(m = 1 | y) Post_1 x Prior_2 + p(m = 2 | y) Prior_1 x Post_2 (the unchosen
    theta follows its prior), so E[p_factory^2] is two 2-D integrals over Betas, done by
    Gauss-Legendre quadrature in each Beta's quantiles.
    """
    a, b = beta_from_mode(np.asarray(omega, dtype=float), kappa)
    exact = exact_comparison(heads, tails, omega, kappa, prior)
    nodes, weights = np.polynomial.legendre.leggauss(SD_NODES)
    quantiles, weights = (nodes + 1) / 2, weights / 2

    def log_joint(m: int, theta):
        return np.log(prior[m]) + heads * np.log(theta) + tails * np.log1p(-theta)

    second = 0.0
    for chosen in (0, 1):
        theta = [stats.beta.ppf(quantiles, a[m] + heads * (m == chosen),
                                       b[m] + tails * (m == chosen)) for m in (0, 1)]
        p_first = special.expit(log_joint(0, theta[0])[:, None] - log_joint(1, theta[1])[None, :])
        second += exact[f"p_factory[{chosen}]"] * weights @ p_first**2 @ weights
    return float(np.sqrt(max(second - exact["p_factory[0]"] ** 2, 0.0)))


def log_bf_estimate(evidence_1: np.ndarray, evidence_2: np.ndarray) -> Estimate:
    """The log Bayes factor from each SMC chain's log evidence of each factory, with its MCSE
    and the MCSE's Welch-Satterthwaite degrees of freedom.

    The MCSE is estimated from the spread between only SMC_MIN_CHAINS chains per factory, so
    (log_bf - exact) / mcse follows a t distribution with about 2 (chains - 1) degrees of
    freedom or fewer (when one factory's chains are much more spread than the other's), not a
    normal: |t| > 4 is some 20 times likelier than |z| > 4. The estimate carries those degrees
    of freedom and :func:`zoo.core.compare.compare` checks the normal z with the t's tail
    probability, which keeps the stated false-alarm rate at the cost of a wider raw bound
    (|t| <= ~5.6 at 14 df). Making the MCSE itself precise instead would take several times
    more chains, each a full SMC run of each factory: the bound is free, the chains are not.
    """
    variances = [e.var(ddof=1) / e.size for e in (evidence_1, evidence_2)]
    mcse = np.sqrt(sum(variances))
    df = sum(variances) ** 2 / sum(v**2 / (e.size - 1)
                                   for v, e in zip(variances, (evidence_1, evidence_2)))
    return Estimate(float(evidence_1.mean() - evidence_2.mean()), float(mcse), float(df))


class FactoryCalibration(Calibration):
    """SBC of the factory the marginalised model hides, through p(factory | y)."""

    discrete = {"factory": "p_factory"}

    def notes(self) -> list[str]:
        return ["factory: randomised PIT of p(factory | y) (binary calibration); theta of the "
                "factory not chosen is drawn from its prior, the model's pseudo-prior"]

    def simulate(self, model, settings, rng):
        """The story the marginalised model hides: theta of both factories from their priors,
        the factory m from its prior, then the heads in N flips of theta_m."""
        truth, _ = super().simulate(model, settings, rng)
        factory = int(rng.choice(2, p=settings["prior"]))
        flips = len(self.model.default_data(settings))
        return {**truth, "factory": factory}, {"heads": rng.binomial(flips, truth["theta"][factory])}


def _shapes(settings) -> tuple[np.ndarray, np.ndarray]:
    """Each factory's Beta shapes from the documented formula, for the independent log
    posterior: a = omega (kappa - 2) + 1, b = (1 - omega)(kappa - 2) + 1."""
    omega, kappa = np.asarray(settings["omega"], float), settings["kappa"]
    return omega * (kappa - 2) + 1, (1 - omega) * (kappa - 2) + 1


class TwoFactories(ZooModel):
    name = "two-factories"
    title = "which of two mints made this coin: Bayes factor by exact evidence, NUTS and SMC"
    formula = [
        r"m \sim \mathrm{Categorical}(\pi_1, \pi_2)",
        r"\theta \mid m \sim \mathrm{Beta}(\omega_m (\kappa - 2) + 1,\ (1 - \omega_m)(\kappa - 2) + 1)",
        r"y_i \sim \mathrm{Bernoulli}(\theta)",
    ]
    summary = ("Which of two factories (modes omega = 0.25 and 0.75, concentration kappa) made a "
               "coin that showed 7 heads in 10 flips. NUTS runs with the factory marginalised out, "
               "each factory keeping its own theta (Carlin & Chib), and p(factory | y) comes from "
               "the draws; SMC estimates each factory's evidence on its own. Both are checked "
               "against the exact evidence and its Bayes factor.")
    columns = [Column("y", "binary", "one flip per row: 1 heads, 0 tails")]
    settings = {
        "omega": Setting("0.25,0.75", parse_pair("omega", 0, 1), "the two factories' modes"),
        "kappa": Setting("6", parsers.at_least(2, "kappa"),
                         "concentration of both factories (lecture: 6 and 202)"),
        "prior": Setting("0.5,0.5", parse_pair("prior", 0, 1, total=1.0), "prior factory probabilities"),
    }
    var_names = ["theta", "p_factory"]

    def default_data(self, settings):
        return pd.DataFrame({"y": np.repeat([1, 0], [7, 3])})

    def build(self, data, settings):
        """Factory index marginalised, each factory with its own theta (Carlin & Chib).

        theta_m ~ Beta(a_m, b_m) for both factories, heads ~ mixture over m of
        Binomial(N, theta_m). The theta of the factory not chosen follows its prior (the
        "pseudo-prior" is the prior), so the chain never has to jump between distant modes
        of a single theta: with kappa = 202 the mixture prior on one theta has modes at 0.25
        and 0.75 that NUTS cannot cross. p(m | theta, y) is proportional to
        prior_m p(y | theta_m), and its posterior mean is p(m | y).
        """
        a, b = beta_from_mode(np.asarray(settings["omega"]), settings["kappa"])
        heads, tails = heads_tails(data["y"])
        weights = np.asarray(settings["prior"])
        with pm.Model(coords={"factory": ["factory 1", "factory 2"]}) as model:
            theta = pm.Beta("theta", alpha=a, beta=b, dims="factory")
            flips = pm.Binomial.dist(n=heads + tails, p=theta)
            observed = pm.Mixture("heads", w=weights, comp_dists=flips, observed=heads)
            # the observed variable, not the constant: p_factory follows data swapped in (SBC)
            log_joint = np.log(weights) + pm.logp(flips, observed)
            pm.Deterministic("p_factory", pm.math.softmax(log_joint), dims="factory")
        return model

    def calibration(self):
        return FactoryCalibration(self)

    def log_posterior(self, data, settings):
        """The marginalised model from the formulas: both thetas' Beta priors (shapes written
        out here, not by ``beta_from_mode``) times sum_m prior_m p(y | theta_m)."""
        a, b = _shapes(settings)
        y = data["y"].to_numpy(float)

        def log_density(values):
            theta = values["theta"]
            per_factory = np.log(settings["prior"]) + y.sum() * np.log(theta) \
                + (1 - y).sum() * np.log1p(-theta)
            return float(special.logsumexp(per_factory) + stats.beta.logpdf(theta, a, b).sum())

        return log_density

    def densities(self, data, settings, built):
        """The marginalised model, and each factory's own model fitted by SMC."""
        a, b = _shapes(settings)
        y = data["y"].to_numpy(float)

        def one_factory(m):
            return lambda values: float(stats.beta.logpdf(values["theta"], a[m], b[m])
                                        + np.sum(y * np.log(values["theta"])
                                                 + (1 - y) * np.log1p(-values["theta"])))

        return [*super().densities(data, settings, built),
                *(Density(f"factory {m + 1}'s own model (SMC)",
                          self.factory_model(data, settings, m), one_factory(m)) for m in (0, 1))]

    def factory_model(self, data, settings, factory: int) -> pm.Model:
        """One factory's model alone, for its evidence by SMC."""
        a, b = beta_from_mode(settings["omega"][factory], settings["kappa"])
        with pm.Model() as model:
            theta = pm.Beta("theta", alpha=a, beta=b)
            pm.Bernoulli("y", p=theta, observed=data["y"].to_numpy())
        return model

    def smc_fits(self, data, settings, config: SamplerConfig) -> list:
        """Each factory's model by SMC, at least SMC_MIN_CHAINS chains: its log evidence.

        One process: for this one-parameter model, starting SMC's worker processes costs more
        than they save (measured: 1.0 s per factory either way, warm).
        """
        smc_config = replace(config, chains=max(config.chains, SMC_MIN_CHAINS), cores=1)
        return [sample_smc(self.factory_model(data, settings, factory), smc_config,
                           seed_offset=1 + factory) for factory in (0, 1)]

    def reference(self, data, settings):
        heads, tails = heads_tails(data["y"])
        exact = exact_comparison(heads, tails, settings["omega"], settings["kappa"], settings["prior"])
        sd = p_factory_sd(heads, tails, settings["omega"], settings["kappa"], settings["prior"])
        return Reference(
            method="exact", kind="exact",
            values={k: exact[k] for k in ("p_factory[0]", "p_factory[1]", "log_bf")},
            alternatives={"exact": exact},
            derived={"p_factory[1]": "p_factory[0]"},  # 1 - p_factory[0] in every draw
            sds={"p_factory[0]": sd, "p_factory[1]": sd},
        )

    def reference_draws(self, data, settings, chains, draws, rng):
        """The marginalised model's exact posterior: factory m with probability p(m | y), then
        theta_m from its posterior Beta(a_m + heads, b_m + tails) and the other factory's theta
        from its prior (the pseudo-prior); p_factory is the model's formula of the thetas."""
        heads, tails = heads_tails(data["y"])
        a, b = beta_from_mode(np.asarray(settings["omega"]), settings["kappa"])
        exact = exact_comparison(heads, tails, settings["omega"], settings["kappa"], settings["prior"])
        second = rng.uniform(size=(chains, draws)) < exact["p_factory[1]"]
        factory = np.stack([~second, second], axis=-1)  # (chains, draws, 2): the one chosen
        theta = np.where(factory, rng.beta(a + heads, b + tails, (chains, draws, 2)),
                         rng.beta(a, b, (chains, draws, 2)))
        log_joint = (np.log(settings["prior"]) + heads * np.log(theta)
                     + tails * np.log1p(-theta))
        return {"theta": theta, "p_factory": np.exp(log_joint - special.logsumexp(log_joint, axis=-1,
                                                                           keepdims=True))}

    def complete(self, fit, data, settings, config, reference):
        """Beside the marginalised mixture (NUTS or SMC): each factory's evidence by SMC."""
        smc = self.smc_fits(data, settings, config)
        evidence = []
        for factory, idata in enumerate(smc):
            fit.extra[f"smc_factory_{factory + 1}"] = idata
            evidence.append(smc_log_evidence(idata))
        fit.estimates["log_bf"] = log_bf_estimate(*evidence)
        log_bf = fit.estimates["log_bf"].value
        log_joint = np.log(settings["prior"]) + np.array([e.mean() for e in evidence])
        fit.alternatives["smc"] = {
            "log_evidence[0]": float(evidence[0].mean()),
            "log_evidence[1]": float(evidence[1].mean()),
            "log_bf": float(log_bf),
            "p_factory[0]": float(np.exp(log_joint[0] - special.logsumexp(log_joint))),
        }
        posterior = fit.idata.posterior["p_factory"]
        fit.alternatives["nuts_marginalised" if config.sampler == "nuts" else "smc_marginalised"] = {
            "p_factory[0]": float(posterior.isel(factory=0).mean()),
            "p_factory[1]": float(posterior.isel(factory=1).mean()),
        }
        fit.notes.append(f"SMC evidence: {evidence[0].size} chains x {config.draws} particles per "
                         "factory; the log BF's MCSE is the spread between chains, with "
                         f"{fit.estimates['log_bf'].df:.1f} degrees of freedom (Welch-Satterthwaite)")

    def figures(self, result, folder: Path) -> list[tuple[str, Path]]:
        """p(factory | y) against kappa: the exact curve and this run's estimate at its kappa."""
        heads, tails = heads_tails(result.data["y"])
        omega, prior, kappa = (result.settings[k] for k in ("omega", "prior", "kappa"))
        kappas = np.geomspace(2, max(400.0, 2 * kappa), 200)
        exact = np.array([[exact_comparison(heads, tails, omega, k, prior)[f"p_factory[{m}]"]
                           for m in (0, 1)] for k in kappas])
        figure, axes = new_figure(height=3.5)
        ax = axes[0, 0]
        for m in (0, 1):
            ax.plot(kappas, exact[:, m], color=f"C{m}", label=f"factory {m + 1}, exact")
            estimate = posterior_estimate(result.fit.idata, f"p_factory[{m}]")
            ax.errorbar(kappa, estimate.value, yerr=2 * estimate.mcse, fmt="o", color=f"C{m}",
                        label=f"factory {m + 1}, this run (+- 2 MCSE)")
        ax.set(xscale="log", xlabel="kappa (both factories' concentration)",
               ylabel="p(factory | y)", ylim=(-0.02, 1.02))
        ax.legend(fontsize="small")
        caption = (f"Posterior factory probabilities against kappa for {heads} heads in "
                   f"{heads + tails} flips: exact curves, and the run's estimate at kappa = {kappa:g}")
        return [(caption, save(figure, folder, "kappa"))]

    def faults(self):
        return [FactoriesKappa, FactoriesOmega, FactoriesPrior, FactoriesFlipsPlusOne,
                FactoriesTempered]

    def posteriordb_code(self):
        return PosteriordbCode(posteriordb_pymc, posteriordb_stan)


# --- injected faults (zoo power; their kinds: zoo.core.faults) ----------------------------------
# on the example: 7 heads in 10 flips, omega (0.25, 0.75), kappa 6


class FactorySettings(Fault):
    """A setting off in the whole model, the SMC evidence models included."""

    def factory_model(self, data, settings, factory):
        return super().factory_model(data, self.altered(settings), factory)


FactoriesKappa = setting_fault(TwoFactories, "kappa-20pct", {"kappa": "7.2"},
                               "concentration kappa 7.2 instead of 6 (20 % off)", FactorySettings)
FactoriesOmega = setting_fault(TwoFactories, "omega-20pct", {"omega": "0.25,0.9"},
                               "factory 2's mode 0.9 instead of 0.75 (20 % off)", FactorySettings)
FactoriesPrior = setting_fault(TwoFactories, "prior-20pct", {"prior": "0.6,0.4"},
                               "prior factory probabilities (0.6, 0.4) instead of (0.5, 0.5)",
                               FactorySettings, quick=True)


class FactoriesFlipsPlusOne(Fault, TwoFactories):
    fault = "flips-plus-one"
    description = ("off by one: Binomial(N + 1) in the marginalised mixture and its p_factory "
                   "(the SMC models keep N)")

    def build(self, data, settings):
        """N + 1 flips with the same heads is the data with one more tail: written once, as an
        author would, it reaches both the likelihood and the Rao-Blackwellised p_factory."""
        return super().build(one_more_tail(data), settings)

    def sbc_model(self, settings):
        return self.build(self.default_data(settings), settings)

    def faulty_reference(self, data, settings):
        values = self.correct.reference(data, settings).values
        mixture = self.correct.reference(one_more_tail(data), settings).values
        return {**values, "p_factory[0]": mixture["p_factory[0]"],
                "p_factory[1]": mixture["p_factory[1]"]}


def one_more_tail(data: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([data, pd.DataFrame({"y": [0]})], ignore_index=True)


class FactoriesTempered(Tempered, TwoFactories):
    description = "the mixture's likelihood tempered by 0.9 (the SMC models untouched)"


# --- written for posteriordb (zoo posteriordb export; zoo.core.posteriordb_code) ----------------
def _factory_shapes(settings: dict[str, Any]) -> tuple[list[float], list[float], list[float]]:
    a, b = beta_from_mode(np.asarray(settings["omega"]), settings["kappa"])
    return [float(v) for v in a], [float(v) for v in b], [float(p) for p in settings["prior"]]


def posteriordb_pymc(settings: dict[str, Any], data: pd.DataFrame) -> str:
    a, b, prior = _factory_shapes(settings)
    return f'''
A = np.array({a!r})  # each factory's Beta: mode omega, concentration kappa
B = np.array({b!r})
PRIOR = np.array({prior!r})  # prior factory probabilities


def model(data):
    """The factory index marginalised, each factory with its own theta (Carlin & Chib)."""
    y = np.asarray(data["y"])
    with pm.Model(coords={{"factory": ["factory 1", "factory 2"]}}) as pymc_model:
        theta = pm.Beta("theta", alpha=A, beta=B, dims="factory")
        flips = pm.Binomial.dist(n=len(y), p=theta)
        heads = pm.Mixture("heads", w=PRIOR, comp_dists=flips, observed=int(y.sum()))
        log_joint = np.log(PRIOR) + pm.logp(flips, heads)
        pm.Deterministic("p_factory", pm.math.softmax(log_joint), dims="factory")
    return pymc_model
'''


def posteriordb_stan(settings: dict[str, Any]) -> str:
    a, b, prior = _factory_shapes(settings)

    def vector(values):
        return "[" + ", ".join(repr(v) for v in values) + "]'"

    return FLIPS_STAN_DATA + f"""transformed data {{
  int heads = sum(y);
  vector[2] a = {vector(a)};
  vector[2] b = {vector(b)};
  vector[2] log_prior = log({vector(prior)});
}}
parameters {{
  vector<lower=0, upper=1>[2] theta;
}}
model {{
  theta ~ beta(a, b);
  target += log_sum_exp(log_prior[1] + binomial_lpmf(heads | N, theta[1]),
                        log_prior[2] + binomial_lpmf(heads | N, theta[2]));
}}
generated quantities {{
  vector[2] p_factory;
  {{
    vector[2] log_joint;
    for (m in 1:2) log_joint[m] = log_prior[m] + binomial_lpmf(heads | N, theta[m]);
    p_factory = softmax(log_joint);
  }}
}}
"""


MODEL = TwoFactories()
