"""The zoo from Python: the functions behind every command, for notebooks and scripts.

    import zoo
    zoo.list_models()                                    # {name: model}
    result = zoo.verify("mint", settings={"K": 75}, seed=1)
    result.passed, result.checks, result.idata, result.to_json()
    zoo.write(result, "reports/mint")                    # zoo run's files
    zoo.make_site([result], out="reports/site")          # zoo report's site
    zoo.calibrate("single-coin", sims=50)                # zoo sbc

(The names are not ``zoo.report.text`` or ``zoo.tools.sbc``: those are the modules behind them.)

Arguments are checked as the command line checks them, before any fitting: a bad one raises
:class:`zoo.UsageError` or :class:`zoo.DataError` with the same one-line message; a folder
that cannot be written (no permission, a full disk) raises :class:`zoo.EnvironmentProblem`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from zoo.core import registry
from zoo.core.errors import UsageError
from zoo.core.guest import as_guest
from zoo.core.model import ZooModel
from zoo.core.outputs import REPORTS, SITE, writable_folder
from zoo.core.registry import all_models
from zoo.core.results import Result
from zoo.core.sampling import SamplerConfig

Settings = Mapping[str, Any] | Sequence[str] | None


@as_guest
def list_models() -> dict[str, ZooModel]:
    """Every model by name: the zoo's own and those other installed packages add."""
    return all_models()


@as_guest
def verify(model: str | ZooModel, data: str | Path | None = None, settings: Settings = None, *,
           config: SamplerConfig | None = None, **sampler: Any) -> Result:
    """Fit ``model`` on ``data`` (a CSV path; None: its bundled example) and check it against
    its reference.

    ``settings``: ``{"K": 75}`` or ``["K=75"]``, as ``--set`` takes them. ``sampler``: any
    field of :class:`zoo.SamplerConfig` (``seed``, ``draws``, ``tune``, ``chains``, ``cores``,
    ``sampler``, ``nuts_sampler``, ``target_accept``, ``progressbar``), applied over ``config``.
    """
    from zoo.core.pipeline import run

    return run(_model(model), data, setting_pairs(settings), sampler_config(config, sampler))


@as_guest
def verify_many(models: Sequence[str | ZooModel] | None = None, data: str | Path | None = None,
                settings: Settings = None, *, jobs: int = 1, config: SamplerConfig | None = None,
                **sampler: Any) -> Iterator[Result]:
    """:func:`verify` for several models (default: all), ``jobs`` at a time, each in its own
    process; results come in the order given, as each finishes."""
    from zoo.core.pipeline import run_all

    chosen = [_model(m) for m in models] if models is not None else list(all_models().values())
    return run_all(chosen, data, setting_pairs(settings), sampler_config(config, sampler), jobs)


@as_guest
def write(result: Result, out: str | Path | None = None) -> list[Path]:
    """``zoo run``'s files for ``result`` (posterior.nc, summary.md, result.json) in ``out``
    (default reports/MODEL), all or nothing; the paths written."""
    from zoo.report.text import write_run

    return write_run(result, writable_folder(out or REPORTS / result.model.name, replaces=True))


@as_guest
def make_site(results: Sequence[Result], out: str | Path = SITE) -> Path:
    """The report site for ``results`` in ``out``, all or nothing; its index page."""
    from zoo.report.site import build_site
    from zoo.tools.sections import site_sections

    folder = writable_folder(out, replaces=True)
    return build_site(list(results), folder, command="zoo.make_site(...)",
                      sections=site_sections(folder.parent)).index


@as_guest
def calibrate(model: str | ZooModel, sims: int = 100, *, settings: Settings = None,
        out: str | Path | None = None, jobs: int = 1, scheduler: str | None = None,
        **options: Any) -> dict[str, Any]:
    """Simulation-based calibration of ``model``: ``sims`` simulated data sets, each fitted and
    ranked; finished simulations are kept in ``out`` (default reports/sbc-MODEL), so a rerun
    resumes. ``options``: any field of :class:`zoo.tools.sbc.SbcConfig` (``seed``, ``draws``,
    ``chains``, ...). Returns the summary (``summary["passed"]``)."""
    from zoo.tools.sbc import SbcConfig, run_sbc

    chosen = _model(model)
    config = _dataclass_with(SbcConfig(sims=sims), options, "SBC option")
    folder = writable_folder(out or REPORTS / f"sbc-{chosen.name}")
    return run_sbc(chosen, config, folder, set_pairs=setting_pairs(settings), jobs=jobs,
                   scheduler=scheduler)


# --- argument checking, shared with the command line ---------------------------------------


def setting_pairs(settings: Settings) -> list[str]:
    """``{"K": 75}`` or ``["K=75"]`` as the ``KEY=VALUE`` texts models parse."""
    if settings is None:
        return []
    if isinstance(settings, Mapping):
        return [f"{key}={value}" for key, value in settings.items()]
    if isinstance(settings, str):
        raise UsageError(f"settings {settings!r}: give a mapping or a list of KEY=VALUE texts")
    return list(settings)


def sampler_config(config: SamplerConfig | None, options: Mapping[str, Any]) -> SamplerConfig:
    """``config`` (default: the zoo's) with ``options`` applied; an unknown option is refused."""
    return _dataclass_with(config or SamplerConfig(), options, "sampler option")


def _dataclass_with(base, options: Mapping[str, Any], what: str):
    known = {f.name for f in fields(base)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(f"{what} {unknown[0]!r} is not known (known: {', '.join(sorted(known))})")
    return replace(base, **options)


#: the model called ``name``; UsageError listing the known ones otherwise
get_model = as_guest(registry.get_model)


def _model(model: str | ZooModel) -> ZooModel:
    return model if isinstance(model, ZooModel) else get_model(model)
