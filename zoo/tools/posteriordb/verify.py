"""``zoo posteriordb verify``: a zoo model fitted on a posteriordb posterior's data and priors,
checked against posteriordb's reference draws and against the zoo's own reference.

posteriordb's checks are the mean and the mean square of each mapped parameter (what its
summary statistics give), the reference's error being ArviZ's MCSE from the reference draws'
10 chains, the posterior's its own MCSE, under the zoo's |z| bound (:mod:`zoo.core.compare`). The
zoo's checks are those of ``zoo verify`` on the same data and settings. Every precondition (the
db, the name, the mapping, its Stan statements, the data, the settings) is checked before the
fit.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from zoo.core import pipeline
from zoo.core.compare import check_draws, compare
from zoo.core.errors import UsageError
from zoo.core.registry import get_model
from zoo.core.results import Estimate, Fit, Reference, Result
from zoo.core.sampling import SamplerConfig
from zoo.tools.posteriordb import layout
from zoo.tools.posteriordb.definition import moments
from zoo.tools.posteriordb.mapping import (MAPPINGS, NOT_MAPPED, Mapping, exported_mapping,
                                           missing_statements, resolve)


@dataclass
class Prepared:
    """A posterior ready to fit: its mapping, the zoo's data frame, its reference draws."""

    name: str
    root: Path
    mapping: Mapping
    frame: pd.DataFrame
    reference: dict[str, np.ndarray] | None
    summary: dict[str, Any] | None = None


@dataclass
class Verification:
    """What verify found: the zoo's run and the checks against posteriordb's draws."""

    prepared: Prepared
    result: Result
    checks: pd.DataFrame | None  # None: posteriordb has no reference draws for it
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.result.passed and (self.checks is None or bool(self.checks["passed"].all()))

    def worst_z(self) -> float:
        tables = [self.result.checks] + ([self.checks] if self.checks is not None else [])
        return float(max(t["z"].abs().max() for t in tables))

    def to_dict(self) -> dict[str, Any]:
        mapping = self.prepared.mapping
        checks = None
        if self.checks is not None:
            checks = self.checks.to_dict(orient="records")
            for row, error in zip(checks, self.checks.attrs["reference_errors"]):
                row["reference_error"] = error
        return {
            "posterior": self.prepared.name,
            "db": str(self.prepared.root),
            "zoo_model": mapping.model,
            "settings": mapping.settings,
            "parameters": mapping.parameters,
            "not_checked": mapping.unmapped,
            "posteriordb_checks": checks,
            "posteriordb_z_bound": None if self.checks is None else self.checks.attrs["z_bound"],
            "zoo": self.result.to_dict(),
            "worst_abs_z": self.worst_z(),
            "notes": self.notes,
            "passed": self.passed,
        }


def mapping_for(root: Path, name: str) -> tuple[str, Mapping]:
    """The posterior's full name and mapping; UsageError saying why it does not map."""
    full = resolve(name, layout.posterior_names(root))
    posterior = layout.posterior_info(root, full)
    mapping = MAPPINGS.get(full) or exported_mapping(root, full, posterior)
    if mapping is None:
        raise UsageError(f"posterior {full} does not map to a zoo model: "
                         f"{NOT_MAPPED.get(full, 'no zoo model has its likelihood and priors')}")
    missing = missing_statements(mapping, layout.model_code(root, posterior["model_name"], "stan"))
    if missing:
        raise UsageError(f"posterior {full} does not map to {mapping.model} any more: its Stan "
                         f"code lacks {missing[0]!r} (whitespace ignored)")
    return full, mapping


def prepare(name: str, db: Path | str) -> Prepared:
    """Everything checked before fitting: the db, the name, the mapping, data and draws."""
    root = layout.database_root(db)
    full, mapping = mapping_for(root, name)
    posterior = layout.posterior_info(root, full)
    frame = mapping.frame(layout.data_values(root, posterior["data_name"]))
    draws = layout.reference_draws(root, posterior)
    if draws is not None:
        absent = [p for p in mapping.parameters if p not in draws]
        if absent:
            raise UsageError(f"posterior {full}: its reference draws lack {', '.join(absent)}")
    get_model(mapping.model).parse_settings(mapping.settings, user_data=True)
    return Prepared(full, root, mapping, frame, draws, _summary(root, posterior))


def _summary(root: Path, posterior: dict[str, Any]) -> dict[str, Any] | None:
    """posteriordb's own mean_value file, to set beside the means computed here."""
    name = posterior.get("reference_posterior_name")
    path = root / layout.SUMMARIES / "mean_value" / "mean_value" / f"{name}.json"
    return layout.read_json(path) if name and path.exists() else None


def verify(name: str, db: Path | str, config: SamplerConfig) -> Verification:
    return run_prepared(prepare(name, db), config)


def run_prepared(prepared: Prepared, config: SamplerConfig) -> Verification:
    """Fit, then both sets of checks; the notes say what is not checked and why."""
    result = fit(prepared, config)
    notes = [f"not checked: {q} ({why})" for q, why in prepared.mapping.unmapped.items()]
    if prepared.reference is None:
        notes.insert(0, f"posteriordb has no reference draws for {prepared.name} "
                        "(reference_posterior_name is null): checked against the zoo's "
                        "reference only")
        return Verification(prepared, result, None, notes)
    checks = reference_checks(result.idata, prepared.reference, prepared.mapping.parameters)
    notes.append(summary_agreement(prepared, checks))
    return Verification(prepared, result, checks, [n for n in notes if n])


def fit(prepared: Prepared, config: SamplerConfig) -> Result:
    """``zoo verify``'s run of the mapped model on the posterior's data, read from a CSV as a
    user's data would be (the zoo's own checks and CSV validation apply)."""
    model = get_model(prepared.mapping.model)
    with tempfile.TemporaryDirectory(prefix="zoo-posteriordb-") as folder:
        csv = Path(folder) / f"{prepared.name}.csv"
        prepared.frame.to_csv(csv, index=False)
        result = pipeline.run(model, csv, prepared.mapping.settings, config)
    result.data_source = f"posteriordb {prepared.name} ({prepared.root})"
    return result


def reference_checks(idata: xr.DataTree, draws: dict[str, np.ndarray],
                     parameters: dict[str, str]) -> pd.DataFrame:
    """Mean and mean square of each parameter: the posterior's against posteriordb's draws,
    each with its MCSE, through :func:`zoo.core.compare.compare` (``attrs["reference_errors"]``
    keeps the reference's MCSE per row)."""
    values, errors, estimates = {}, {}, {}
    for theirs, ours in parameters.items():
        reference, estimate = moments(draws[theirs]), moments(check_draws(idata.posterior, ours))
        for stat in ("mean", "mean_square"):
            check = f"{theirs}.{stat}"
            values[check], errors[check] = reference[stat].value, reference[stat].mcse
            estimates[check] = Estimate(estimate[stat].value, estimate[stat].mcse)
    checks = compare(Fit(idata, estimates=estimates), Reference("posteriordb", values, errors, kind="reference draws"))
    checks.attrs["reference_errors"] = [errors[name] for name in checks["name"]]
    return checks


def summary_agreement(prepared: Prepared, checks: pd.DataFrame) -> str:
    """How the reference means computed here sit against posteriordb's own mean_value file."""
    summary = prepared.summary
    if not summary:
        return ""
    theirs = dict(zip(summary["names"], summary["mean_value"]))
    ours = checks.set_index("name")["reference"]
    gaps = [abs(ours[f"{name}.mean"] - theirs[name]) for name in prepared.mapping.parameters
            if name in theirs]
    return (f"reference means computed from the draws match posteriordb's mean_value file "
            f"to {max(gaps):.1g}" if gaps else "")
