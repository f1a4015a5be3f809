"""Grades: each method's answer against the reference the model's own checks use.

For a mean check, the bias is (estimate - reference) / reference posterior sd; for an sd check,
the ratio estimate / reference. Both carry the method's Monte Carlo error (ArviZ's MCSE, as
``zoo verify``), and every drawn estimate gets verify's z. The grade of a method on a model:

- accurate: every |bias| < ACCURATE_BIAS and every sd ratio within ACCURATE_SD of 1;
- usable: every |bias| < USABLE_BIAS and every sd ratio within USABLE_SD of 1;
- misleading: otherwise (a NaN or infinite estimate too);
- unconverged: a sampler whose own diagnostics fail (R-hat, ESS, divergences, stuck chains),
  whatever its bias: its numbers cannot be trusted without rerunning;
- failed: the method did not run; ungraded: none of the model's checks is among its answers;
  not installed: its optional package is missing (nothing about the method).

An approximation's bias is its grade, not a failure of the zoo.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoo.compare import parse_check, posterior_estimate, z_bound, z_score
from zoo.diagnostics import diagnose
from zoo.results import Reference

ACCURATE_BIAS, ACCURATE_SD = 0.1, 0.10
USABLE_BIAS, USABLE_SD = 0.5, 0.25
GRADES = ["accurate", "usable", "misleading", "unconverged", "failed", "ungraded", "not installed"]
#: alternatives that are not estimates of the checked quantities (standard errors, distances)
NOT_ESTIMATES = re.compile(r"(_se|_in_sds)$")


@dataclass
class CheckGrade:
    """One checked quantity under one method."""

    check: str
    reference: float
    estimate: float
    mcse: float | None  # None for a point
    bias: float | None = None  # mean checks: in reference posterior sds
    sd_ratio: float | None = None  # sd checks
    error: float | None = None  # the MCSE of bias or sd_ratio, on the same scale
    z: float | None = None  # verify's z, for drawn estimates
    scale: str = "reference sd"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class MethodGrade:
    """A method's grade on one model, with the worst quantities that decided it."""

    grade: str
    checks: list[CheckGrade] = field(default_factory=list)
    ungraded: dict[str, str] = field(default_factory=dict)  # check -> why
    worst_bias: tuple[str, float] | None = None
    worst_sd_ratio: tuple[str, float] | None = None
    z_passed: bool | None = None  # samplers: every |z| within verify's bound
    diagnostics: dict[str, Any] | None = None


def sd_check_of(check: str) -> str:
    """The name of the sd check of the scalar a mean check is about."""
    var, index, _ = parse_check(check)
    return f"{var}{'' if index is None else f'[{index}]'}.sd"


def scalar(values, index: int | None) -> float:
    return float(np.ravel(np.asarray(values, dtype=float))[index or 0])


def grade_checks(reference: Reference, draws=None,
                 point: dict | None = None) -> tuple[list[CheckGrade], dict[str, str]]:
    """Every reference check the answer covers, graded; the others with the reason why not.

    ``draws``: a DataTree whose posterior holds the variables; ``point``: values by name.
    """
    rows, ungraded = [], {}
    present = set(draws.posterior.data_vars) if draws is not None else set(point)
    for check, ref in reference.values.items():
        var, index, stat = parse_check(check)
        if var not in present:
            ungraded[check] = "not among the method's answers (not a variable of the PyMC model)"
            continue
        if draws is not None:
            estimate = posterior_estimate(draws, check)
            value, mcse = estimate.value, estimate.mcse
        elif stat == "sd":
            ungraded[check] = "a point estimate has no sd"
            continue
        else:
            value, mcse = scalar(point[var], index), None
        rows.append(_graded(check, float(ref), value, mcse, reference, draws))
    return rows, ungraded


def _graded(check: str, ref: float, value: float, mcse: float | None, reference: Reference,
            draws) -> CheckGrade:
    se_ref = reference.errors.get(check, 0.0)
    z = z_score(value, ref, mcse, se_ref) if mcse is not None else None
    row = CheckGrade(check, ref, value, mcse, z=z)
    if parse_check(check)[2] == "sd":
        row.sd_ratio = value / ref if ref else math.nan
        row.error = mcse / ref if ref and mcse is not None else None
        return row
    sd_name = sd_check_of(check)
    scale = reference.values.get(sd_name)
    if scale is None and draws is not None:  # e.g. a probability checked by its mean only
        scale, row.scale = posterior_estimate(draws, sd_name).value, "the method's own sd"
    if scale is None:
        row.scale = "no sd to scale by"
        return row
    row.bias = (value - ref) / scale if scale else math.nan
    row.error = mcse / scale if scale and mcse is not None else None
    return row


def decide(rows: list[CheckGrade]) -> tuple[str, tuple | None, tuple | None]:
    """The grade from the worst |bias| and the worst sd ratio (NaN counts as worst)."""
    biases = [(r.check, r.bias) for r in rows if r.bias is not None]
    ratios = [(r.check, r.sd_ratio) for r in rows if r.sd_ratio is not None]
    if not biases and not ratios:
        return "ungraded", None, None

    def badness(value: float, centre: float) -> float:
        return abs(value - centre) if math.isfinite(value) else math.inf

    worst_bias = max(biases, key=lambda item: badness(item[1], 0.0), default=None)
    worst_ratio = max(ratios, key=lambda item: badness(item[1], 1.0), default=None)
    bias = badness(worst_bias[1], 0.0) if worst_bias else 0.0
    ratio = badness(worst_ratio[1], 1.0) if worst_ratio else 0.0
    if bias < ACCURATE_BIAS and ratio < ACCURATE_SD:
        grade = "accurate"
    elif bias < USABLE_BIAS and ratio < USABLE_SD:
        grade = "usable"
    else:
        grade = "misleading"
    return grade, worst_bias, worst_ratio


def grade_method(kind: str, outcome, reference: Reference, var_names: list[str] | None) -> MethodGrade:
    """A method's grade on a model; samplers must also pass their convergence diagnostics."""
    if outcome.missing:  # issue 23: was "failed", and the heat map marked it as one
        return MethodGrade("not installed")
    if outcome.error:
        return MethodGrade("failed")
    rows, ungraded = grade_checks(reference, draws=outcome.idata, point=outcome.point)
    grade, worst_bias, worst_ratio = decide(rows)
    result = MethodGrade(grade, rows, ungraded, worst_bias, worst_ratio)
    if kind == "sampler":
        posterior = set(outcome.idata.posterior.data_vars)
        names = [v for v in (var_names or posterior) if v in posterior]
        diag = diagnose(outcome.idata, names)
        result.diagnostics = diag.as_dict()
        bound = z_bound(len(reference.values))
        result.z_passed = all(r.z is not None and abs(r.z) <= bound for r in rows)
        if not diag.converged:
            result.grade = "unconverged"
    return result


def alternative_grades(reference: Reference) -> dict[str, MethodGrade]:
    """The model's classical answers (EM, empirical Bayes, type-2 ML, grid ...), graded on the
    checks they estimate. The reference itself, and answers equal to it, are left out."""
    grades = {}
    checks = {parse_check(check): check for check in reference.values}
    for name, values in reference.alternatives.items():
        if name == reference.method or NOT_ESTIMATES.search(name):
            continue
        point = {checks[parsed]: float(value) for key, value in values.items()
                 if (parsed := _parsed(key)) in checks}
        if not point or all(np.isclose(v, reference.values[c], rtol=1e-12, atol=0)
                            for c, v in point.items()):
            continue
        rows = [_graded(check, float(reference.values[check]), value, None, reference, None)
                for check, value in point.items()]
        grade, worst_bias, worst_ratio = decide(rows)
        ungraded = {c: "not among its answers" for c in reference.values if c not in point}
        grades[name] = MethodGrade(grade, rows, ungraded, worst_bias, worst_ratio)
    return grades


def _parsed(key: str) -> tuple | None:
    """``parse_check`` of an alternative's key, None for one that names no checked quantity
    ("sigma (shared)", "P(y_new >= 4)")."""
    try:
        return parse_check(key)
    except ValueError:
        return None
