"""What a run is made of: the reference, the fit, and the result that joins them.

Plain data, importing no other part of the run, so that the model contract, the comparison, the
pipeline and SBC can all use these types without importing each other.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import TYPE_CHECKING, Any


from zoo.core.deferred import pd, pm, xr
from zoo.core.diagnostics import Diagnostics
from zoo.core.sampling import SamplerConfig

if TYPE_CHECKING:
    from zoo.core.model import ZooModel

#: a run's ``data_source`` when it fitted the model's own example (else the CSV's path)
BUNDLED_EXAMPLE = "bundled example"
#: every package that can change the numbers; a run's record gives their versions
PACKAGES = ["pymc", "pytensor", "nutpie", "arviz", "arviz-base", "arviz-stats", "numpy", "scipy",
            "pandas", "xarray"]


#: what a reference can rest on (``Reference.kind``), and what each means
REFERENCE_KINDS = {
    "exact": "closed form",
    "exact draws": "independent draws of the exact posterior; their Monte Carlo error is the "
                   "reference's error",
    "quadrature": "numerical integration to a stated tolerance",
    "grid": "sums over a grid of the parameters",
    "importance sampling": "importance sampling with a trusted Pareto k; its Monte Carlo error "
                           "is the reference's error",
    "EM fallback": "EM's optimum and its asymptotic standard errors: a weaker check",
    "reference draws": "a published reference posterior's draws (posteriordb)",
    "unstated": "the model does not say",
}
#: the kinds that make a weaker check, with the short name a verdict gives them
WEAKER_KINDS = {"EM fallback": "EM"}


@dataclass
class Reference:
    """The exact or classical answer the posterior is checked against.

    ``values`` maps check names (``theta[1].sd``, ``p_factory[0]``) to reference values;
    ``errors`` gives the reference's own standard error where it has one (0 otherwise);
    ``alternatives``: other methods' answers shown beside it (grid, EM, empirical Bayes).
    ``refusal``: why this reference cannot verify the posterior ("cannot verify: 2 modes of
    comparable mass"); the run then cannot pass, whatever its checks say.
    ``kind``: what the values rest on, one of REFERENCE_KINDS (a verdict says it).
    ``derived``: checks that follow exactly from another ({"p_factory[1]": "p_factory[0]"}):
    shown, but neither widening the bound nor counted as checks of their own.
    ``sds``: the exact posterior sd of a mean check's quantity that has no ``.sd`` check, so
    that a method's bias is always in units of the posterior's sd
    (:func:`zoo.core.compare.reference_sd`).
    ``workings``: what the reference found on the way that the fit's hooks reuse rather than
    compute again (gmm: EM's optima, where its chains start); kept in the reference cache with
    the rest, compared with nothing.
    """

    method: str
    values: dict[str, float]
    errors: dict[str, float] = field(default_factory=dict)
    alternatives: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    refusal: str | None = None
    kind: str = field(default="unstated", kw_only=True)
    derived: dict[str, str] = field(default_factory=dict, kw_only=True)
    sds: dict[str, float] = field(default_factory=dict, kw_only=True)
    workings: dict[str, Any] = field(default_factory=dict, kw_only=True)

    def __post_init__(self):
        if self.kind not in REFERENCE_KINDS:
            raise ValueError(f"reference kind {self.kind!r} is not one of "
                             f"{', '.join(REFERENCE_KINDS)}")
        for check, source in self.derived.items():
            if check not in self.values or source not in self.values or source in self.derived:
                raise ValueError(f"derived check {check!r} from {source!r}: both must be checks, "
                                 "and the source not itself derived")

    @property
    def weaker(self) -> bool:
        """Whether the checks against this reference are the weaker kind (EM fallback)."""
        return self.kind in WEAKER_KINDS

    @property
    def counted(self) -> list[str]:
        """The checks that count: every check but the derived ones."""
        return [check for check in self.values if check not in self.derived]


@dataclass
class Estimate:
    """A posterior estimate that does not come from a posterior variable (e.g. SMC's log BF).

    ``df``: the degrees of freedom of ``mcse`` when it is estimated from a few independent
    replicates (SMC chains), so that (value - truth) / mcse is t- rather than normally
    distributed; :func:`zoo.core.compare.compare` then turns z into the normal z with the same tail
    probability. None: the MCSE is precise enough for z to be taken as normal.
    """

    value: float
    mcse: float
    df: float | None = None


@dataclass(frozen=True)
class DensityCheck:
    """The log-density cross-check's verdict (:mod:`zoo.core.density_check`): the largest deviation
    of PyMC's minus the independent log density from a constant, against its tolerance, over
    every PyMC model the fit samples (the worst one's when there are several)."""

    passed: bool
    max_deviation: float
    tolerance: float
    points: int
    seconds: float
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "max_deviation": self.max_deviation,
                "tolerance": self.tolerance, "points": self.points, "seconds": self.seconds}


@dataclass
class Fit:
    """What fitting returns: the main posterior, any further estimates, and other methods' answers."""

    idata: xr.DataTree
    estimates: dict[str, Estimate] = field(default_factory=dict)
    alternatives: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, xr.DataTree] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the PyMC model sampled, built once per run; None in a fit that came from another
    #: process, since a PyMC model does not pickle (gmm's CustomDist is a class made at run
    #: time): :meth:`Result.pymc_model` builds it again there
    model: pm.Model | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "model": None}


@dataclass
class Result:
    """Everything a run found, in plain objects: tables are pandas, the posterior a DataTree."""

    model: ZooModel
    data: pd.DataFrame
    settings: dict[str, Any]
    config: SamplerConfig
    data_source: str
    reference: Reference
    fit: Fit
    checks: pd.DataFrame
    summary: pd.DataFrame
    diagnostics: Diagnostics
    density_check: DensityCheck
    set_pairs: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: "computed", or read from the reference cache (zoo.core.reference_cache) and when
    reference_source: str = "computed"

    @property
    def z_bound(self) -> float:
        """The |z| every check is held to (wider for a model with many checks)."""
        return float(self.checks.attrs["z_bound"])

    @property
    def idata(self) -> xr.DataTree:
        """The main posterior, with its sample stats and data."""
        return self.fit.idata

    @property
    def passed(self) -> bool:
        return (bool(self.checks["passed"].all()) and self.diagnostics.converged
                and self.density_check.passed and self.reference.refusal is None)

    @property
    def counted_checks(self) -> pd.DataFrame:
        """The checks that count (a derived one is shown, not counted: ``Reference.derived``)."""
        return self.checks[~self.checks["name"].isin(self.reference.derived)]

    def config_dict(self) -> dict[str, Any]:
        """What the run used: a setting that does not apply to its data (one that only shapes
        the bundled example, under --data) is left out rather than shown as if it had."""
        unused = "data" if self.data_source == BUNDLED_EXAMPLE else "example"
        settings = {key: text for key, text in self.model.setting_texts(self.set_pairs).items()
                    if self.model.settings[key].applies_to != unused}
        return {
            "data": self.data_source,
            "settings": settings,
            **self.config.as_dict(),
            "versions": versions(),
        }

    def pymc_model(self) -> pm.Model:
        """The PyMC model the fit sampled (:attr:`Fit.model`); for a fit that came from another
        process, built again from the run's data and settings, once (the report asks three
        times: the graph, the predictive check, the log likelihood)."""
        if self.fit.model is None:
            self.fit.model = self.model.build(self.data, self.settings)
        return self.fit.model

    def alternatives(self) -> dict[str, dict[str, float]]:
        return {self.reference.method: self.reference.values, **self.reference.alternatives,
                **self.fit.alternatives}

    def notes(self) -> list[str]:
        """The reference's, the fit's and the comparison's notes (e.g. a weaker reference, a z
        converted from a t)."""
        return [*self.density_check.notes, *self.reference.notes, *self.fit.notes,
                *self.checks.attrs.get("notes", [])]

    def to_dict(self) -> dict[str, Any]:
        """Everything a run found; each check also gives its ``reference_error``, so that
        z = (estimate - reference) / sqrt(mcse^2 + reference_error^2) can be recomputed, and the
        check it is ``derived_from`` (None for a check that counts); ``reference_kind`` and
        ``weaker_check`` say what the verdict rests on."""
        checks = [{**row, "reference_error": self.reference.errors.get(row["name"], 0.0),
                   "derived_from": self.reference.derived.get(row["name"])}
                  for row in self.checks.to_dict(orient="records")]
        return {
            "model": self.model.name,
            "config": self.config_dict(),
            "checks": checks,
            "alternatives": self.alternatives(),
            "diagnostics": self.diagnostics.as_dict(),
            "density_check": self.density_check.as_dict(),
            "notes": self.notes(),
            "seconds": self.seconds,
            "reference_source": self.reference_source,
            "refusal": self.reference.refusal,
            "reference_kind": self.reference.kind,
            "weaker_check": self.reference.weaker,
            "passed": self.passed,
        }

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`to_dict` as JSON text; NaN and inf are written as JSON's ``NaN``/``Infinity``
        (as Python's json module does), never as a finite number."""
        return json.dumps(self.to_dict(), indent=indent, default=float)


def versions() -> dict[str, str]:
    """Versions of Python and of every package that can change the numbers."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        found[package] = version(package)
    return found

