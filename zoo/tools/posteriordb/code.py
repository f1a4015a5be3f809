"""A zoo model as posteriordb code: its data JSON, a self-contained PyMC script, and Stan code
where it is straightforward.

Each script defines ``model(data) -> pm.Model`` from the data JSON, as posteriordb's PyMC
models do, with the zoo model's settings written in as constants, and runs NUTS when called as
``python SCRIPT DATA.json``. The variable names are the zoo's PyMC names, which the reference
draws use (``theta[1]`` in Stan's 1-based form). A script may parameterise differently from the
zoo's fit (mint centred, rat-tumors with theta sampled rather than integrated out): the
posterior of the named variables is the same. A model without a script here (a model newer
than this module) gets one that builds the zoo's own model, which needs the zoo installed, and
the model info says so. Stan code was not compiled here (no Stan on the machine that wrote it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from zoo.numerics.exact import beta_from_mode
from zoo.core.model import ZooModel

SCRIPT_HEAD = '''"""{title}

The bayes zoo's `{name}` model, written for posteriordb by `zoo posteriordb export`.
Settings: {settings}.
Run `python {file} DATA.json` to sample it with PyMC.
"""

import json
import sys

import numpy as np
import pymc as pm
'''

SCRIPT_TAIL = '''

if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as file:
        print(pm.sample(model=model(json.load(file)), random_seed=1).posterior)
'''


@dataclass(frozen=True)
class ModelCode:
    """How one zoo model is written out: its data JSON, its PyMC body, its Stan code."""

    data: Callable[[pd.DataFrame, dict[str, Any]], dict[str, Any]]
    pymc: Callable[[dict[str, Any]], str]
    stan: Callable[[dict[str, Any]], str] | None = None
    self_contained: bool = True
    #: the inverse of ``data``: the zoo's data frame from the data JSON (verify of an export)
    frame: Callable[[dict[str, Any]], pd.DataFrame] | None = None


def columns_json(frame: pd.DataFrame, settings: dict[str, Any]) -> dict[str, Any]:
    """N and every column as a list, a missing value as null."""
    data: dict[str, Any] = {"N": len(frame)}
    for column in frame.columns:
        values = frame[column].to_numpy()
        data[column] = [None if _missing(v) else _plain(v) for v in values]
    return data


def columns_frame(data: dict[str, Any]) -> pd.DataFrame:
    """The inverse of :func:`columns_json`: every list of N values a column, null missing."""
    return pd.DataFrame({key: [np.nan if v is None else v for v in values]
                         for key, values in data.items()
                         if isinstance(values, list) and len(values) == data.get("N")})


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _plain(value):
    """A numpy scalar as the JSON number or string it is."""
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return str(value)


FLIPS_STAN_DATA = """data {
  int<lower=0> N;
  array[N] int<lower=0, upper=1> y;
}
"""


# --- single-coin ------------------------------------------------------------------------------
def single_coin_pymc(settings: dict[str, Any]) -> str:
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


def single_coin_stan(settings: dict[str, Any]) -> str:
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


# --- two-factories ----------------------------------------------------------------------------
def _factories(settings: dict[str, Any]) -> tuple[list[float], list[float], list[float]]:
    a, b = beta_from_mode(np.asarray(settings["omega"]), settings["kappa"])
    return [float(v) for v in a], [float(v) for v in b], [float(p) for p in settings["prior"]]


def two_factories_pymc(settings: dict[str, Any]) -> str:
    a, b, prior = _factories(settings)
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


def two_factories_stan(settings: dict[str, Any]) -> str:
    a, b, prior = _factories(settings)

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


# --- mint -------------------------------------------------------------------------------------
def mint_json(frame: pd.DataFrame, settings: dict[str, Any]) -> dict[str, Any]:
    """Flips with each coin as 1..S in the zoo's order (theta[1] is the first label)."""
    from zoo.models.mint import coin_counts, coin_index

    labels = coin_counts(frame).labels
    return {"N": len(frame), "S": len(labels), "coin_labels": labels,
            "coin": (coin_index(frame, labels) + 1).tolist(), "y": frame["y"].astype(int).tolist()}


def mint_frame(data: dict[str, Any]) -> pd.DataFrame:
    """The inverse of :func:`mint_json`: each flip's coin label and outcome."""
    labels = data["coin_labels"]
    return pd.DataFrame({"coin": [labels[i - 1] for i in data["coin"]], "y": data["y"]})


def _free_k(settings: dict[str, Any]):
    from zoo.models.mint import FreeK

    return settings["K"] if isinstance(settings["K"], FreeK) else None


def mint_pymc(settings: dict[str, Any]) -> str:
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


def mint_stan(settings: dict[str, Any]) -> str:
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


# --- rat-tumors -------------------------------------------------------------------------------
def rat_tumors_pymc(settings: dict[str, Any]) -> str:
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


def rat_tumors_stan(settings: dict[str, Any]) -> str:
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


# --- gmm --------------------------------------------------------------------------------------
def gmm_pymc(settings: dict[str, Any], priors) -> str:
    k = settings["components"]
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


def zoo_pymc(name: str) -> Callable[[dict[str, Any]], str]:
    """A script that builds the zoo's own model (not self-contained: it needs the zoo)."""

    def script(settings: dict[str, Any]) -> str:
        return f'''
import pandas as pd
from zoo.core.registry import get_model

ZOO_MODEL = get_model({name!r})


def model(data):
    """The zoo's model under its default settings, on the data's columns."""
    frame = pd.DataFrame({{k: v for k, v in data.items() if k != "N"}})
    return ZOO_MODEL.build(frame, ZOO_MODEL.parse_settings())
'''

    return script


CODE = {
    "single-coin": ModelCode(columns_json, single_coin_pymc, single_coin_stan),
    "two-factories": ModelCode(columns_json, two_factories_pymc, two_factories_stan),
    "mint": ModelCode(mint_json, mint_pymc, mint_stan, frame=mint_frame),
    "rat-tumors": ModelCode(columns_json, rat_tumors_pymc, rat_tumors_stan),
}


def model_code(model: ZooModel, data: pd.DataFrame) -> ModelCode:
    """The model's code; gmm's priors resolved on its data ('auto' is the data's scale)."""
    if model.name == "gmm":
        from zoo.models.gmm import resolve_priors

        def gmm(settings):
            return gmm_pymc(settings, resolve_priors(data["x"].to_numpy(), settings))

        return ModelCode(columns_json, gmm)
    return CODE.get(model.name) or ModelCode(columns_json, zoo_pymc(model.name),
                                             self_contained=False)


def data_frame(model_name: str) -> Callable[[dict[str, Any]], pd.DataFrame]:
    """How an exported data JSON of ``model_name`` reads back as the zoo's data frame."""
    code = CODE.get(model_name)
    return code.frame if code and code.frame else columns_frame


def pymc_script(model: ZooModel, code: ModelCode, settings_text: str, file: str,
                settings: dict[str, Any]) -> str:
    head = SCRIPT_HEAD.format(title=model.title, name=model.name, settings=settings_text, file=file)
    return head + code.pymc(settings) + SCRIPT_TAIL
