"""The kinds of injected fault a model declares for ``zoo power`` (:meth:`ZooModel.faults`):
each a mistake an author could plausibly make, written in the model's own module as a subclass
of the model (after one of the kinds here) whose PyMC model is wrong while ``reference`` stays
the correct one.

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

import sys
from contextlib import contextmanager
from functools import cache
from typing import Any, ClassVar

import numpy as np

from zoo.core.calibration import Calibration
from zoo.core.deferred import pd, pm, pt
from zoo.core.errors import UsageError
from zoo.core.model import ZooModel
from zoo.core.registry import get_model

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
                                     "changes": changes, "quick": quick,
                                     "__module__": base.__module__, "__qualname__": name})
    setattr(sys.modules[base.__module__], name, cls)  # findable by pickle, beside its model
    return cls


class SharedHelperFault(Fault):
    """A mistake in a helper of the model's module that ``build`` and ``reference`` both call:
    the module's ``helper`` is replaced by ``faulty_helper(original)`` for the length of each
    call of either (and of SBC's fitted model), so both see it; SBC still simulates from the
    correct model. Its exact answer is the model's reference with the faulty helper."""

    helper: ClassVar[str]

    @staticmethod
    def faulty_helper(original):
        raise NotImplementedError

    @contextmanager
    def patched(self):
        module = sys.modules[type(self.correct).__module__]
        original = getattr(module, self.helper)
        setattr(module, self.helper, self.faulty_helper(original))
        try:
            yield
        finally:
            setattr(module, self.helper, original)

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


# --- a model's faults, by name ------------------------------------------------------------------


def faults_of(model: str, quick: bool = False) -> list[str]:
    """The names of a model's faults (only the quick ones with ``quick``)."""
    return [f.fault for f in get_model(model).faults() if f.quick or not quick]


def faulty_model(model: str, fault: str) -> ZooModel:
    """The model ``model`` with the fault ``fault`` injected."""
    for cls in get_model(model).faults():
        if cls.fault == fault:
            return cls()
    raise UsageError(f"{model} has no fault {fault!r} (known: {', '.join(faults_of(model))})")
