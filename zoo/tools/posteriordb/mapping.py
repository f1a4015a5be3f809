"""Which posteriordb posteriors are zoo models, read off their Stan code, data and priors.

A posterior maps when a zoo model under some settings has the same likelihood and priors on the
same parameters. Each mapping names the Stan statements it relies on (priors, likelihood,
constraints): ``verify`` refuses a posterior whose Stan code no longer says them, so a changed
posteriordb cannot be checked under a stale mapping. Quantities of the posterior the zoo model
lacks (a second, prior-only parameter; generated predictions; a difference of parameters) are
listed with the reason they are not checked.

- ``Rate_1``, ``Rate_4``: k of n, theta ~ Beta(1, 1) -> ``single-coin``, prior flat, the k heads
  and n - k tails as flips (the binomial and the Bernoulli sequence have the same kernel
  theta^k (1 - theta)^(n - k), so the same posterior).
- ``Rate_3``, ``Rate_5``: one theta for two trials -> ``single-coin`` on the pooled
  k1 + k2 of n1 + n2 (the product of the two binomials has the pooled kernel).
- ``Rate_2``: two independent rates -> ``mint`` with K = 2: theta_s ~ Beta(omega 0 + 1,
  (1 - omega) 0 + 1) = Beta(1, 1) whatever omega, so the coins are independent with flat priors
  (omega is then only its own prior, Beta(2, 2), and is not a posteriordb parameter).
  ``two-factories`` is not it: its two groups are candidate factories for one coin's flips.
- ``low_dim_gauss_mix`` -> ``gmm`` with 2 components and posteriordb's priors: mu ~ Normal(0, 2)
  ordered, sigma ~ HalfNormal(2) (Stan's normal(0, 2) on sigma > 0), theta ~ Beta(5, 5), which is
  w ~ Dirichlet(5, 5) with theta = w[0], the weight of the lower mean (Stan's log_mix gives
  theta to mu[1]).
- a posterior ``zoo posteriordb export`` wrote -> the zoo model it came from, under the settings
  its model info records, every reference-draw scalar checked (the round trip).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zoo.core.errors import UsageError
from zoo.core.registry import all_models
from zoo.tools.posteriordb import layout
from zoo.tools.posteriordb.code import model_code

#: reasons for the posteriors of the shared subset that map to no zoo model
NOT_MAPPED = {
    "eight_schools-eight_schools_noncentered": (
        "no zoo model has its likelihood: eight normal means y_j ~ Normal(theta_j, sigma_j) with "
        "known sigma_j and theta_j ~ Normal(mu, tau), mu ~ Normal(0, 5), tau ~ HalfCauchy(5) (the "
        "zoo's hierarchical model, rat-tumors, is Beta-Binomial)"),
}
GENERATED = "a generated quantity (binomial_rng): a simulated prediction, not a parameter"


@dataclass(frozen=True)
class Mapping:
    """How one posteriordb posterior is a zoo model: settings, data, and parameter names."""

    posterior: str
    model: str
    settings: list[str]
    frame: Callable[[dict[str, Any]], pd.DataFrame]
    #: Stan statements (whitespace ignored) the mapping relies on
    statements: tuple[str, ...]
    #: posteriordb's name of each checked parameter -> the zoo's scalar (``w[0]``)
    parameters: dict[str, str]
    #: posteriordb quantities not checked, with the reason
    unmapped: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        settings = f" --set {' --set '.join(self.settings)}" if self.settings else ""
        return f"{self.model}{settings}"


def flips(heads: int, trials: int) -> pd.DataFrame:
    """Bernoulli flips with the counts' kernel: ``heads`` ones, then zeros."""
    if heads > trials:
        raise UsageError(f"posteriordb data: {heads} successes in {trials} trials")
    return pd.DataFrame({"y": np.repeat([1, 0], [heads, trials - heads])})


def one_rate(data: dict[str, Any]) -> pd.DataFrame:
    return flips(_count(data, "k"), _count(data, "n"))


def pooled_rate(data: dict[str, Any]) -> pd.DataFrame:
    return flips(_count(data, "k1") + _count(data, "k2"), _count(data, "n1") + _count(data, "n2"))


def two_rates(data: dict[str, Any]) -> pd.DataFrame:
    """mint's flips: coin ``trial1`` (theta[0] = theta1) and ``trial2`` (theta[1] = theta2)."""
    parts = [flips(_count(data, f"k{i}"), _count(data, f"n{i}")).assign(coin=f"trial{i}")
             for i in (1, 2)]
    return pd.concat(parts, ignore_index=True)[["coin", "y"]]


def mixture_data(data: dict[str, Any]) -> pd.DataFrame:
    y = np.asarray(data.get("y", []), dtype=float)
    if y.ndim != 1 or y.size != data.get("N") or not np.isfinite(y).all():
        raise UsageError("posteriordb data: expected N finite values in y")
    return pd.DataFrame({"x": y})


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or value < 0:
        raise UsageError(f"posteriordb data: {key} must be a whole number >= 0, found {value!r}")
    return value


RATE_PRIOR = "theta~beta(1,1);"
MAPPINGS = {m.posterior: m for m in [
    Mapping("Rate_1_data-Rate_1_model", "single-coin", ["prior=flat"], one_rate,
            ("real<lower=0,upper=1>theta;", RATE_PRIOR, "k~binomial(n,theta);"),
            {"theta": "theta"}),
    Mapping("Rate_2_data-Rate_2_model", "mint", ["K=2"], two_rates,
            ("theta1~beta(1,1);", "theta2~beta(1,1);", "k1~binomial(n1,theta1);",
             "k2~binomial(n2,theta2);"),
            {"theta1": "theta[0]", "theta2": "theta[1]"},
            {"delta": "theta1 - theta2, a transformed parameter mint does not define (theta1 and "
                      "theta2 are checked, and are independent under this prior)"}),
    Mapping("Rate_3_data-Rate_3_model", "single-coin", ["prior=flat"], pooled_rate,
            ("real<lower=0,upper=1>theta;", RATE_PRIOR, "k1~binomial(n1,theta);",
             "k2~binomial(n2,theta);"),
            {"theta": "theta"}),
    Mapping("Rate_4_data-Rate_4_model", "single-coin", ["prior=flat"], one_rate,
            ("real<lower=0,upper=1>theta;", RATE_PRIOR, "k~binomial(n,theta);"),
            {"theta": "theta"},
            {"thetaprior": "a second parameter with only its Beta(1, 1) prior and no data; "
                           "single-coin has one rate",
             "postpredk": GENERATED, "priorpredk": GENERATED}),
    Mapping("Rate_5_data-Rate_5_model", "single-coin", ["prior=flat"], pooled_rate,
            ("real<lower=0,upper=1>theta;", RATE_PRIOR, "k1~binomial(n1,theta);",
             "k2~binomial(n2,theta);"),
            {"theta": "theta"},
            {"postpredk1": GENERATED, "postpredk2": GENERATED}),
    Mapping("low_dim_gauss_mix-low_dim_gauss_mix", "gmm",
            ["components=2", "mu_prior=normal:0,2", "sigma_prior=halfnormal:2",
             "w_prior=dirichlet:5"], mixture_data,
            ("ordered[2]mu;", "array[2]real<lower=0>sigma;", "real<lower=0,upper=1>theta;",
             "sigma~normal(0,2);", "mu~normal(0,2);", "theta~beta(5,5);",
             "log_mix(theta,normal_lpdf(y[n]|mu[1],sigma[1]),normal_lpdf(y[n]|mu[2],sigma[2]))"),
            {"mu[1]": "mu[0]", "mu[2]": "mu[1]", "sigma[1]": "sigma[0]",
             "sigma[2]": "sigma[1]", "theta": "w[0]"}),
]}


#: the keyword ``zoo posteriordb export`` gives every posterior it writes
ZOO_KEYWORD = "bayes zoo"


def exported_mapping(root: Path, name: str, posterior: dict[str, Any]) -> Mapping | None:
    """A posterior ``zoo posteriordb export`` wrote maps back to the model it came from, under
    the settings its model info records, every reference-draw scalar checked (the round trip);
    None for any other posterior."""
    keywords = posterior.get("keywords") or []
    models = [m for name, m in all_models().items() if name in keywords]
    if ZOO_KEYWORD not in keywords or len(models) != 1:
        return None
    model = models[0]
    info = layout.read_json(root / "models" / "info" / f"{posterior['model_name']}.info.json")
    settings = [f"{key}={text}" for key, text in info.get("zoo_settings", {}).items()
                if key in model.settings and model.settings[key].applies_to != "example"]
    names = []
    if posterior.get("reference_posterior_name"):
        draws_info = layout.read_json(root / layout.DRAWS / "info"
                                      / f"{posterior['reference_posterior_name']}.info.json")
        names = draws_info.get("diagnostics", {}).get("diagnostic_information", {}).get("names", [])
    return Mapping(name, model.name, settings, model_code(model).frame, (),
                   {n: layout.zoo_scalar(n) for n in names if layout.zoo_scalar(n)},
                   {n: "a matrix element: the zoo's checks name scalars and vector elements"
                    for n in names if not layout.zoo_scalar(n)})


def stan_statements(code: str) -> str:
    """Stan code without comments and whitespace, to look statements up in."""
    code = re.sub(r"//[^\n]*|/\*.*?\*/|#[^\n]*", "", code, flags=re.S)
    return re.sub(r"\s+", "", code)


def missing_statements(mapping: Mapping, code: str | None) -> list[str]:
    """The mapping's statements the posterior's Stan code lacks (all of them without code)."""
    flat = stan_statements(code or "")
    return [s for s in mapping.statements if s not in flat]


def resolve(name: str, known: list[str]) -> str:
    """The full posterior name for ``name``: itself, or a mapping's short name (``Rate_1``,
    ``low_dim_gauss_mix``, ``eight_schools_noncentered``) among the db's posteriors."""
    if name in known:
        return name
    matches = [p for p in known if name in (p.split("-")[-1], p.split("-")[-1].removesuffix("_model"))]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"unknown posterior {name!r} in the db; its posteriors: {', '.join(known)}")
