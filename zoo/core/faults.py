"""Injected faults for ``zoo power``: each a mistake an author could plausibly make, kept out of
``models/``, as a subclass of the model whose PyMC model is wrong while ``reference`` stays the
correct one.

How a fault enters the model. A fault either

- changes a setting the model already has (``changes``: a prior hyperparameter off by 20 %),
  given to ``build`` in place of the true one; or
- adds terms to the model's log density (``inject``): a ``pm.Potential`` that turns the correct
  density into the faulty one: a likelihood row dropped (weight 0), counted twice (weight 2) or
  the whole likelihood tempered (weight 0.9); a Jacobian or Potential term removed (its
  negative added); a count off by one or an sd where a variance belongs (faulty minus correct
  log-likelihood).

Both act in ``build`` (so ``zoo.core.pipeline.run`` fits the faulty model) and in ``sbc_model`` (so
``zoo.tools.sbc`` fits it too), while SBC keeps simulating from the correct model: SBC
asks whether the faulty fit recovers what the correct story generated. A fault that ignores a
fixed row of the data is invisible to SBC by construction (the posterior given less data is
still calibrated); ``sbc_note`` says so.

A third kind (:class:`SharedHelperFault`) is a mistake in a helper that ``build`` and
``reference`` share (mint's ``beta_from_mode``, gmm's ``resolve_priors``, missing-data's
``default_prior``): both see it, so the reference moves with the fit and no moment check can
catch it; only a check written apart from both (the log-density cross-check) can.

Each fault knows its exact answer where it has one (``faulty_reference``): the model's own
reference under the changed settings, data or helper, or the same exact method applied to the
faulty density (tempered counts, a prior or hyperprior off, a missing Jacobian). Otherwise
None, and ``zoo power`` takes the fault's effect from a separate long run of the faulty model,
never from the fits it judges.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from zoo.models import gmm as gmm_module
from zoo.models import mint as mint_module
from zoo.models import missing_data as missing_module
from zoo.models.gmm import GaussianMixture
from zoo.models.missing_data import PRIOR_K, PRIOR_NU, MissingData, default_prior, niw_prior
from zoo.models.mint import Mint, coin_counts
from zoo.models.mint import exact_posterior as mint_exact
from zoo.models.rat_tumors import (
    SEARCH_BELOW_V,
    SEARCH_HALF_WIDTH_U,
    SEARCH_ABOVE_V,
    GridPosterior,
    RatTumors,
    central_range,
    normalised,
    alpha_beta,
    grid_moments,
    grid_predictive,
    log_marginal_likelihood,
    log_posterior_uv,
    posterior_mode_uv,
)
from zoo.models.single_coin import SingleCoin
from zoo.models.single_coin import exact_posterior as coin_exact
from zoo.models.two_factories import TwoFactories
from zoo.core.errors import UsageError
from zoo.numerics.exact import heads_tails, quadrature_moments
from zoo.core.calibration import Calibration
from zoo.core.model import ZooModel

#: weight of every likelihood row in the tempering faults
TEMPER = 0.9
#: the factor of the "off by 20 %" faults
OFF = 1.2


class Fault:
    """Mixin placed before a model class: the model with one injected fault."""

    fault: ClassVar[str]
    description: ClassVar[str]
    #: setting texts given to ``build`` (and to SBC's fitted model) instead of the user's
    changes: ClassVar[dict[str, str]] = {}
    #: why SBC cannot see this fault, when it cannot by construction
    sbc_note: ClassVar[str] = ""
    #: whether ``zoo power --quick`` runs this fault
    quick: ClassVar[bool] = False

    @property
    def correct(self) -> ZooModel:
        """The model without the fault (the class after this mixin in the MRO)."""
        return _correct(type(self))

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.correct.name}+{self.fault}"

    def altered(self, settings: dict[str, Any]) -> dict[str, Any]:
        """``settings`` with this fault's ``changes`` applied."""
        changed = {key: self.correct.settings[key].parse(text) for key, text in self.changes.items()}
        return {**settings, **changed}

    def inject(self, model: pm.Model, data: pd.DataFrame, settings: dict[str, Any]) -> None:
        """Add the fault's terms to ``model`` (built on ``data``), inside its context."""

    def build(self, data, settings):
        model = super().build(data, self.altered(settings))
        with model:
            self.inject(model, data, settings)
        return model

    def sbc_model(self, settings):
        """The model SBC fits: the correct model's, with the fault."""
        model = self.correct.calibration().pymc_model(self.altered(settings))
        with model:
            self.inject(model, self.default_data(settings), settings)
        return model

    def calibration(self) -> Calibration:
        return FaultyCalibration(self)

    def faulty_reference(self, data: pd.DataFrame, settings: dict[str, Any]) -> dict[str, float] | None:
        """The faulty model's own exact answer, by check name, or None when it has none."""
        if self.changes:
            return self.correct.reference(data, self.altered(settings)).values
        return None


class FaultyCalibration(Calibration):
    """The correct model's calibration, except that the faulty model is fitted: SBC asks
    whether the faulty fit recovers what the correct story generated."""

    def __init__(self, faulty: Fault):
        super().__init__(faulty)
        self.correct = faulty.correct.calibration()
        self.discrete = self.correct.discrete

    def notes(self) -> list[str]:
        return self.correct.notes()

    def parameters(self, settings):
        return self.correct.parameters(settings)

    def pymc_model(self, settings):
        return self.model.sbc_model(settings)

    def simulate(self, model, settings, rng):
        """Simulate from the correct model, never the faulty one being fitted."""
        texts = tuple(sorted(self.model.setting_texts().items()))
        return self.correct.simulate(_correct_sbc_model(type(self.model), texts), settings, rng)

    def start(self, settings, observed):
        return self.correct.start(settings, observed)


@cache
def _correct(cls: type) -> ZooModel:
    base = next(c for c in cls.__mro__ if issubclass(c, ZooModel) and not issubclass(c, Fault))
    return base()


@cache
def _correct_sbc_model(cls: type, setting_texts: tuple) -> pm.Model:
    """The correct model's SBC model, built once per process (its forward sampler compiles once)."""
    correct = _correct(cls)
    settings = correct.parse_settings([f"{k}={v}" for k, v in setting_texts])
    return correct.calibration().pymc_model(settings)


# --- generic kinds of fault -----------------------------------------------------------------


def setting_fault(base: type, fault: str, changes: dict[str, str], description: str,
                  mixin: type = Fault, quick: bool = False) -> type:
    """A fault that only changes settings: ``base`` fitted with ``changes``."""
    name = f"{base.__name__}_{fault.replace('-', '_')}"
    cls = type(name, (mixin, base), {"fault": fault, "description": description,
                                     "changes": changes, "quick": quick, "__module__": __name__,
                                     "__qualname__": name})
    globals()[name] = cls  # findable by pickle
    return cls



class SharedHelperFault(Fault):
    """A mistake in a helper of the model's module that ``build`` and ``reference`` both call:
    the module's ``helper`` is replaced by ``faulty_helper(original)`` for the length of each
    call of either (and of SBC's fitted model), so both see it; SBC still simulates from the
    correct model. Its exact answer is the model's reference with the faulty helper."""

    module: ClassVar[ModuleType]
    helper: ClassVar[str]

    @staticmethod
    def faulty_helper(original):
        raise NotImplementedError

    @contextmanager
    def patched(self):
        original = getattr(self.module, self.helper)
        setattr(self.module, self.helper, self.faulty_helper(original))
        try:
            yield
        finally:
            setattr(self.module, self.helper, original)

    def build(self, data, settings):
        with self.patched():
            return super().build(data, settings)

    def reference(self, data, settings):
        with self.patched():
            return super().reference(data, settings)

    def sbc_model(self, settings):
        with self.patched():
            return super().sbc_model(settings)

    def faulty_reference(self, data, settings):
        return self.reference(data, settings).values


def observed(model: pm.Model):
    """The model's one observed variable."""
    (rv,) = model.observed_RVs
    return rv


def add_delta(name: str, delta) -> None:
    """Add ``delta`` (faulty minus correct log density) to the model in context."""
    pm.Potential(f"fault_{name}", pt.sum(delta))


class Reweighted(Fault):
    """Each observed row's log-likelihood counted ``weight`` times instead of once (the change
    ``(weight - 1) x logp`` is added): 0 drops a row, 2 duplicates it, 0.9 tempers."""

    weight: ClassVar[float]
    rows: ClassVar[str] = "all"  # "all" or "last"

    def weights(self, shape: tuple) -> np.ndarray:
        if self.rows == "all":
            return np.full(shape, self.weight)
        weights = np.ones(shape)
        weights[-1] = self.weight
        return weights

    def inject(self, model, data, settings):
        for rv in model.observed_RVs if self.rows == "all" else [observed(model)]:
            shape = np.shape(model.rvs_to_values[rv].data)
            add_delta(f"weights_{rv.name}", (self.weights(shape) - 1.0) * pm.logp(rv, rv))

    def reweighted_data(self, data: pd.DataFrame) -> pd.DataFrame | None:
        """The data whose correct reference is this fault's, when rows are dropped or doubled."""
        if self.rows != "last" or self.weight not in (0, 2):
            return None
        if self.weight == 0:
            return data.iloc[:-1].reset_index(drop=True)
        return pd.concat([data, data.iloc[-1:]], ignore_index=True)

    def faulty_reference(self, data, settings):
        altered = self.reweighted_data(data)
        return None if altered is None else self.correct.reference(altered, settings).values


class DropLast(Reweighted):
    weight, rows = 0.0, "last"
    fault = "drop-last"
    description = "the last observation dropped from the likelihood"
    sbc_note = ("blind by construction: a fixed observation ignored leaves a calibrated posterior "
                "given the rest")


class DuplicateLast(Reweighted):
    weight, rows = 2.0, "last"
    fault = "duplicate-last"
    description = "the last observation counted twice"


class Tempered(Reweighted):
    weight, rows = TEMPER, "all"
    fault = "tempered-0.9"
    description = "the likelihood tempered: every row's log-likelihood times 0.9"


# --- single-coin: triangular prior, 3 heads and 9 tails ----------------------------------------


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
        return _coin_values(coin_exact(heads - 1, tails - 1, settings["prior"]))


class CoinDropLast(DropLast, SingleCoin):
    pass


class CoinDuplicateLast(DuplicateLast, SingleCoin):
    pass


class CoinTempered(Tempered, SingleCoin):
    def faulty_reference(self, data, settings):
        heads, tails = _coin_counts(data)
        return _coin_values(coin_exact(TEMPER * heads, TEMPER * tails, settings["prior"]))


# --- two-factories: 7 heads in 10 flips, omega (0.25, 0.75), kappa 6 ---------------------------


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


# --- mint: coins 3/15 and 4/5, K = 5, omega ~ Beta(2, 2), noncentred ----------------------------


MintA = setting_fault(Mint, "A-20pct", {"A": "2.4"},
                      "omega ~ Beta(2.4, 2) instead of Beta(2, 2) (A 20 % off)")
MintK = setting_fault(Mint, "K-20pct", {"K": "6"}, "concentration K = 6 instead of 5 (20 % off)")


class MintSwappedShapes(SharedHelperFault, Mint):
    fault = "beta-shapes-swapped"
    description = ("beta_from_mode returns its shapes swapped, (b, a): theta's prior mode at "
                   "1 - omega, in the model and its reference alike")
    module, helper = mint_module, "beta_from_mode"

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
        return mint_exact(TEMPER * counts.heads, TEMPER * counts.flips, settings["K"],
                          settings["A"], settings["B"])


# --- rat-tumors: 71 experiments, BDA3's hyperprior in (u, v) ------------------------------------


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


# --- gmm: three components, 10,000 points ------------------------------------------------------


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
    module, helper = gmm_module, "resolve_priors"

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


# --- missing-data: 40 points, 20 second coordinates lost ---------------------------------------


class MissingCompleteCase(Fault, MissingData):
    fault = "complete-case"
    description = ("complete-case analysis: x1's likelihood only over the rows whose x2 was kept "
                   "(the incomplete rows' x1 ignored)")
    quick = True

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
    module, helper = missing_module, "default_prior"

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


# --- catalogue ----------------------------------------------------------------------------------

FAULTS: dict[str, list[type[Fault]]] = {
    "single-coin": [CoinFlatPrior, CoinMode, CoinNoJacobian, CoinDropLast, CoinDuplicateLast,
                    CoinTempered],
    "two-factories": [FactoriesKappa, FactoriesOmega, FactoriesPrior, FactoriesFlipsPlusOne,
                      FactoriesTempered],
    "mint": [MintA, MintK, MintSwappedShapes, MintNoJacobian, MintNoNormalTerm, MintDropLast,
             MintDuplicateLast, MintTempered],
    "rat-tumors": [RatExponent, RatNoJacobian, RatRatsPlusOne, RatDropLast, RatDuplicateLast,
                   RatTempered],
    "gmm": [GmmSigmaAsVariance, GmmNoWeights, GmmSigmaPrior, GmmSigmaScaleFromVariance,
            GmmDropLast, GmmTempered],
    "missing-data": [MissingCompleteCase, MissingSdAsVariance, MissingShapeOff,
                     MissingPriorFromSds, MissingTempered, MissingDuplicateX1],
}


def faults_of(model: str, quick: bool = False) -> list[str]:
    """The names of a model's faults (only the quick ones with ``quick``)."""
    return [f.fault for f in FAULTS.get(model, []) if f.quick or not quick]


def faulty_model(model: str, fault: str) -> ZooModel:
    """The model ``model`` with the fault ``fault`` injected."""
    for cls in FAULTS.get(model, []):
        if cls.fault == fault:
            return cls()
    raise UsageError(f"{model} has no fault {fault!r} (known: {', '.join(faults_of(model))})")
