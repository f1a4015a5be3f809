"""The contract every model in ``models/`` fulfils.

A model is a subclass of :class:`ZooModel` assigned to a module-level ``MODEL``. It says
which CSV columns and settings it takes, builds its PyMC model, computes its exact or
classical reference, and (optionally) overrides how it is fitted. The pipeline
(:mod:`zoo.core.pipeline`) does the rest: sampling, comparison, diagnostics, reports.
"""

from __future__ import annotations

from importlib import resources
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from zoo.core.calibration import Calibration
from zoo.core.data import Column, read_csv
from zoo.core.deferred import pd, pm
from zoo.core.errors import UsageError
from zoo.core.option_names import flag, given
from zoo.core.results import Fit, Reference
from zoo.core.sampling import DEFAULT_DRAWS, SamplerConfig, sample_nuts, sample_smc

if TYPE_CHECKING:
    from zoo.core.faults import Fault
    from zoo.core.posteriordb_code import PosteriordbCode
    from zoo.core.results import Result

DATA_DIR = Path(str(resources.files("zoo.datasets")))


#: a log posterior written from a model's formulas: the natural (untransformed) values of the
#: PyMC model's free variables, by name, to the log density up to a constant
LogPosterior = Callable[[dict[str, np.ndarray]], float]


@dataclass(frozen=True)
class Density:
    """A PyMC model that a fit samples, beside its log posterior written independently of it
    (see :mod:`zoo.core.density_check`); ``label`` names it in the check's notes."""

    label: str
    model: pm.Model
    log_posterior: LogPosterior | None


@dataclass(frozen=True)
class Setting:
    """A model setting given as ``--set name=text``: its default text and its parser.

    ``parse`` turns the text into a value and raises ValueError with a readable reason.
    ``applies_to``: "example" for a setting that only shapes the bundled example (refused with
    ``--data``), "data" for one that only reads the user's CSV (refused without it), None for
    one that applies either way (see :meth:`ZooModel.parse_settings`).
    """

    default: str
    parse: Callable[[str], Any]
    help: str
    applies_to: Literal["example", "data"] | None = None


class ZooModel(ABC):
    """Base class of a zoo model; subclasses fill in the class attributes and two methods."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: the model as mathematics for its report page: one TeX line (matplotlib mathtext) per
    #: statement; empty: the page shows the title alone
    formula: ClassVar[list[str]] = []
    #: what the model is and its decisions, in a few sentences, for its report page and the
    #: posteriordb export (not the docstring, which is for its maintainers); empty: the title
    #: stands in (:meth:`describe`)
    summary: ClassVar[str] = ""
    columns: ClassVar[list[Column]]
    settings: ClassVar[dict[str, Setting]] = {}
    #: draws per chain unless the command says: enough that every check detects a bias of
    #: 0.15 posterior sd (docs/power.md, "Power of the checks"); more only costs time
    draws: ClassVar[int] = DEFAULT_DRAWS
    #: variables whose R-hat and ESS decide convergence (None: all posterior variables)
    var_names: ClassVar[list[str] | None] = None
    #: the seed of the random draws :meth:`reference` makes (importance sampling, exact
    #: draws); None for a reference that draws none. ``zoo power`` gives each false-alarm run
    #: a copy with a seed of its own, which the reference cache keys on (the instance's state)
    reference_seed: int | None = None

    # --- data -----------------------------------------------------------------------------
    def load(self, path: Path | str | None, settings: dict[str, Any]) -> pd.DataFrame:
        """The user's CSV, checked, or the lecture's example when ``path`` is None."""
        if path is None:
            return self.default_data(settings)
        frame = read_csv(path, self.columns)
        self.validate(frame, Path(path))
        return frame

    @abstractmethod
    def default_data(self, settings: dict[str, Any]) -> pd.DataFrame:
        """The example from the lecture."""

    def validate(self, frame: pd.DataFrame, path: Path) -> None:
        """Checks across columns (e.g. tumors <= rats); raise DataError via zoo.core.data.fail_rows."""

    # --- settings -------------------------------------------------------------------------
    def setting_texts(self, pairs: list[str] | None = None) -> dict[str, str]:
        """Every setting as text: defaults overridden by ``KEY=VALUE`` strings."""
        texts = {key: setting.default for key, setting in self.settings.items()}
        for pair in pairs or []:
            key, sep, text = pair.partition("=")
            key = key.strip()
            if not sep:
                raise UsageError(f"{given('settings', pair)}: expected KEY=VALUE")
            if key not in self.settings:
                known = ", ".join(self.settings) or "none"
                raise UsageError(f"{given('settings', key)}: {self.name} has no setting {key!r} "
                                 f"(known: {known})")
            texts[key] = text.strip()
        return texts

    def parse_settings(self, pairs: list[str] | None = None, *,
                       user_data: bool | None = None) -> dict[str, Any]:
        """Settings as values; UsageError naming the key for unknown keys or bad values.

        ``user_data`` says whether the run reads a CSV of the user's (True) or the bundled
        example (False): a setting given in ``pairs`` that would then be ignored (its
        ``applies_to``) is refused rather than silently dropped. None: not checked.
        """
        values = {}
        texts = self.setting_texts(pairs)
        for key, text in texts.items():
            try:
                values[key] = self.settings[key].parse(text)
            except ValueError as err:
                raise UsageError(f"{given('settings', f'{key}={text}')}: {err}") from None
        asked = {pair.partition("=")[0].strip() for pair in pairs or []}
        for key in asked if user_data is not None else ():
            applies_to = self.settings[key].applies_to
            if applies_to == "example" and user_data:
                raise UsageError(f"{given('settings', f'{key}={texts[key]}')}: {key} only "
                                 f"chooses {self.name}'s bundled example, which "
                                 f"{flag('data')} replaces; drop one of them")
            if applies_to == "data" and not user_data:
                raise UsageError(f"{given('settings', f'{key}={texts[key]}')}: {key} applies "
                                 f"only to a CSV given with {flag('data')}, not to "
                                 f"{self.name}'s bundled example")
        return values

    # --- model, reference, fit ------------------------------------------------------------
    @abstractmethod
    def build(self, data: pd.DataFrame, settings: dict[str, Any]) -> pm.Model:
        """The PyMC model."""

    @abstractmethod
    def reference(self, data: pd.DataFrame, settings: dict[str, Any]) -> Reference:
        """The exact / grid / classical answer, keyed by check name."""

    def fit(self, built: pm.Model, data: pd.DataFrame, settings: dict[str, Any],
            config: SamplerConfig, reference: Reference) -> Fit:
        """Sample ``built`` (what :meth:`build` made of ``data``) with NUTS, started as
        :meth:`nuts_options` says, or SMC, as ``config`` says, then let the model
        :meth:`complete` the fit. The fit keeps ``built``.

        The one place where the sampler is chosen; models customise the two hooks, not this.
        """
        if config.sampler == "smc":
            fit = Fit(sample_smc(built, config), model=built)
        else:
            fit = Fit(sample_nuts(built, config, **self.nuts_options(data, settings, reference)),
                      model=built)
        self.complete(fit, data, settings, config, reference)
        return fit

    # --- the log-density cross-check (zoo.core.density_check) ------------------------------------
    def log_posterior(self, data: pd.DataFrame, settings: dict[str, Any]) -> LogPosterior | None:
        """:meth:`build`'s log posterior written again from the formulas (numpy/scipy), calling
        neither ``build`` nor any helper it calls, so that a mistake in either shows: a function
        of the free variables' natural values by name, on the natural scale (the check adds the
        transforms' Jacobians), where PyMC integrates something out, the same marginal.
        None: the model gives none, and its log-density check fails."""
        return None

    def densities(self, data: pd.DataFrame, settings: dict[str, Any],
                  built: pm.Model) -> list[Density]:
        """Every PyMC model the fit samples, each with its independent log posterior:
        ``built`` (:meth:`build`'s model of ``data``) by default; a model whose fit builds
        further models adds them."""
        return [Density("the model", built, self.log_posterior(data, settings))]

    # --- hooks of the fit: ``reference`` is the run's, computed once, so that what it found
    # (``Reference.workings``) is reused rather than computed again or kept in a hidden cache
    def nuts_options(self, data: pd.DataFrame, settings: dict[str, Any],
                     reference: Reference) -> dict[str, Any]:
        """Keyword arguments for :func:`zoo.core.sampling.sample_nuts`: where the chains start
        (``starts`` or ``initvals``) and the mass matrix (``adaptation``). None by default.
        Starts taken from the reference's workings make the chains and the reference share
        them; the docstring must then say which check catches a shared mistake."""
        return {}

    def complete(self, fit: Fit, data: pd.DataFrame, settings: dict[str, Any],
                 config: SamplerConfig, reference: Reference) -> None:
        """What the model adds to the sampled posterior, in place: derived draws, estimates
        that are not posterior variables (each with its MCSE), further fits (``fit.extra``),
        other methods' answers (``fit.alternatives``), notes. Nothing by default."""

    def describe(self) -> str:
        """What the model is, for its users: its ``summary``, else its title (the module's
        docstring is for its maintainers and is published nowhere)."""
        return self.summary or self.title

    def figures(self, result: Result, folder: Path) -> list[tuple[str, Path]]:
        """The model's own plots for its report page, saved in ``folder``: (caption, file).

        The site draws the generic ones (trace, rank, densities, energy, predictive check);
        override this for plots only this model has. See :mod:`zoo.report.figures` for helpers.
        """
        return []

    # --- what the tools ask of a model: each optional, empty by default ------------------------
    def calibration(self) -> Calibration:
        """How ``zoo sbc`` calibrates this model: :class:`Calibration`'s defaults, or a subclass
        of it where the model needs its own prior, simulator or starts."""
        return Calibration(self)

    def faults(self) -> list[type[Fault]]:
        """The mistakes ``zoo power`` injects to measure the checks: classes beside the model,
        each a subclass of it after a kind of :mod:`zoo.core.faults`. None by default (power
        then measures the model's false alarms only)."""
        return []

    def reference_draws(self, data: pd.DataFrame, settings: dict[str, Any], chains: int,
                        draws: int, rng) -> dict[str, Any] | None:
        """Independent draws from the exact posterior, numpy arrays shaped (chains, draws, ...)
        keyed by the PyMC model's variable names; None when the model has no exact sampler.

        Why: posteriordb accepts exact draws as a reference posterior (`zoo posteriordb
        export`); an approximate sampler (importance resampling, MCMC) does not qualify.
        """
        return None

    def posteriordb_code(self) -> PosteriordbCode | None:
        """The model written for posteriordb (``zoo posteriordb export``): a self-contained
        PyMC script, Stan code, the data JSON (:mod:`zoo.core.posteriordb_code`). None by
        default: the export's script builds the zoo's own model, and needs the zoo installed."""
        return None

    def scaling_data(self, size: int) -> pd.DataFrame | None:
        """``size`` units (points, experiments) of data told as the example's story, the same
        for the same size, for ``zoo bench --scaling``. None by default: not scaled."""
        return None
