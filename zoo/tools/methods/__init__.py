"""``zoo methods``: every inference method a PyMC user reaches for, graded against the zoo's
exact answers (issue 15).

Each method runs on the model's PyMC model (``model.build``) with the model's data and
settings, and is graded on the checks of ``model.reference`` that its draws (or point) cover:
:mod:`zoo.tools.methods.catalog` runs the methods, :mod:`zoo.tools.methods.grading` grades them,
:mod:`zoo.tools.methods.output` prints and writes the tables and figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from zoo.core import progress_lines
from zoo.core.errors import UsageError
from zoo.core.results import Reference
from zoo.core.sampling import SamplerConfig, quieted_pymc
from zoo.tools.methods.catalog import METHODS, Method, Outcome, Target, run_method
from zoo.tools.methods.grading import MethodGrade, alternative_grades, grade_method


@dataclass
class MethodRun:
    """One method on one model: how it ran and how it did."""

    method: Method
    outcome: Outcome
    grade: MethodGrade


@dataclass
class ModelMethods:
    """Every method on one model, and the model's classical answers graded alike."""

    model: str
    settings: dict[str, str]
    reference: Reference
    runs: list[MethodRun]
    alternatives: dict[str, MethodGrade]
    config: SamplerConfig
    seconds: dict[str, float] = field(default_factory=dict)


def method_names(text: str | None) -> list[str]:
    """``--methods a,b`` as known names, in the catalogue's order; all of them for None."""
    if text is None:
        return list(METHODS)
    asked = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in asked if name not in METHODS]
    if unknown or not asked:
        raise UsageError(f"--methods {text}: unknown method(s) {', '.join(unknown) or '(none given)'}"
                         f"; known: {','.join(METHODS)}")
    return [name for name in METHODS if name in asked]


def run_methods(zoo_model, data, set_pairs: list[str] | None, names: list[str],
                config: SamplerConfig, report: Any = None) -> ModelMethods:
    """Run the ``names`` methods on ``zoo_model`` and grade each; ``report(name, run)`` is
    called as each finishes (the console's progress)."""
    settings = zoo_model.parse_settings(set_pairs, user_data=data is not None)
    frame = zoo_model.load(data, settings)
    start = time.perf_counter()
    with quieted_pymc():
        reference = zoo_model.reference(frame, settings)
    nuts_options = zoo_model.nuts_options(frame, settings, reference)  # e.g. gmm's EM starts
    seconds = {"reference": time.perf_counter() - start}
    runs = []
    for name in names:
        method = METHODS[name]
        target = Target(zoo_model.build(frame, settings), nuts_options)
        with progress_lines.about(zoo_model.name):
            outcome = run_method(method, target, config)
        run = MethodRun(method, outcome, grade_method(method.kind, outcome, reference,
                                                      zoo_model.var_names))
        runs.append(run)
        if report:
            report(zoo_model.name, run)
    seconds["methods"] = time.perf_counter() - start - seconds["reference"]
    return ModelMethods(zoo_model.name, zoo_model.setting_texts(set_pairs), reference, runs,
                        alternative_grades(reference), config, seconds)
