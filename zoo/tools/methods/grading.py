"""Grades: each method's answer against the reference the model's own checks use.

For a mean check, the bias is (estimate - reference) / the reference's posterior sd (its
``.sd`` check, or ``Reference.sds`` where it has none: never the method's own sd, which would
make an over-dispersed method look less biased); for an sd check, the ratio estimate /
reference. Both carry their Monte Carlo error, the method's (ArviZ's MCSE, as ``zoo verify``)
and the reference's (``Reference.errors``) combined, and every drawn estimate gets verify's z.
Each bias and ratio has an interval of +- k errors, k chosen so that all of a method's
intervals on a model hold together with probability 1 - GRADE_ALPHA (Bonferroni). The bands:

- accurate: every |bias| < ACCURATE_BIAS and every sd ratio within ACCURATE_SD of 1;
- usable: every |bias| < USABLE_BIAS and every sd ratio within USABLE_SD of 1;
- misleading: otherwise (a NaN or infinite estimate too).

A method gets a band only when its intervals put it inside that one band; intervals that reach
into the next band give "accurate or usable" or "usable or misleading", wider ones (or an
error that is NaN) "not resolved at these draws": more draws would tell. Besides:

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
from scipy.stats import norm

from zoo.core.compare import parse_check, posterior_estimate, reference_sd, z_bound, z_score
from zoo.core.diagnostics import diagnose
from zoo.core.results import Reference

ACCURATE_BIAS, ACCURATE_SD = 0.1, 0.10
USABLE_BIAS, USABLE_SD = 0.5, 0.25
#: the chance that any of a method's intervals on a model misses its true value
GRADE_ALPHA = 0.05
#: the bands from best to worst, each with its bound on |bias| and on |sd ratio - 1|
BANDS = [("accurate", ACCURATE_BIAS, ACCURATE_SD), ("usable", USABLE_BIAS, USABLE_SD),
         ("misleading", math.inf, math.inf)]
UNRESOLVED = "not resolved at these draws"
GRADES = ["accurate", "accurate or usable", "usable", "usable or misleading", "misleading",
          UNRESOLVED, "unconverged", "failed", "ungraded", "not installed"]
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
    error: float | None = None  # the Monte Carlo error of bias or sd_ratio (method's and reference's)
    z: float | None = None  # verify's z, for drawn estimates
    scale: float | None = None  # mean checks: the reference posterior sd the bias is in units of
    low: float | None = None  # the interval of bias or sd_ratio (see interval_width)
    high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def graded(self) -> float | None:
        """The bias or the sd ratio, whichever this check has."""
        return self.bias if self.bias is not None else self.sd_ratio

    @property
    def centre(self) -> float:
        """What the graded number is for a perfect method: no bias, a ratio of 1."""
        return 0.0 if self.bias is not None else 1.0

    def distances(self) -> tuple[float, float]:
        """The smallest and largest distance from the centre the interval allows (infinite for
        a NaN estimate; (0, inf) for an error that is NaN or infinite: nothing is known)."""
        value, centre = self.graded, self.centre
        if not math.isfinite(value):
            return math.inf, math.inf
        if self.low is None or not (math.isfinite(self.low) and math.isfinite(self.high)):
            return 0.0, math.inf
        ends = abs(self.low - centre), abs(self.high - centre)
        return (0.0 if self.low <= centre <= self.high else min(ends)), max(ends)

    def bands(self) -> tuple[int, int]:
        """The best and the worst band (indices of BANDS) this check's interval allows."""
        column = 1 if self.bias is not None else 2
        return tuple(next(i for i, band in enumerate(BANDS) if distance < band[column])
                     if math.isfinite(distance) else len(BANDS) - 1
                     for distance in self.distances())


@dataclass
class MethodGrade:
    """A method's grade on one model, with the quantities that decided it (the check whose
    interval reaches furthest from perfect: (check, value, low, high))."""

    grade: str
    checks: list[CheckGrade] = field(default_factory=list)
    ungraded: dict[str, str] = field(default_factory=dict)  # check -> why
    worst_bias: tuple[str, float, float | None, float | None] | None = None
    worst_sd_ratio: tuple[str, float, float | None, float | None] | None = None
    z_passed: bool | None = None  # samplers: every |z| within verify's bound
    diagnostics: dict[str, Any] | None = None


def scalar(values, index: int | None) -> float:
    return float(np.ravel(np.asarray(values, dtype=float))[index or 0])


def interval_width(n_intervals: int) -> float:
    """k of the +- k error intervals: all ``n_intervals`` of a method's intervals on a model
    cover their true values with probability at least 1 - GRADE_ALPHA (Bonferroni)."""
    return float(norm.isf(GRADE_ALPHA / (2 * max(n_intervals, 1))))


def grade_checks(reference: Reference, draws=None,
                 point: dict | None = None) -> tuple[list[CheckGrade], dict[str, str]]:
    """Every reference check the answer covers, graded with its interval; the others with the
    reason why not. ``draws``: a DataTree whose posterior holds the variables; ``point``:
    values by name."""
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
        rows.append(_graded(check, float(ref), value, mcse, reference))
    return with_intervals(rows, ungraded), ungraded


def _graded(check: str, ref: float, value: float, mcse: float | None,
            reference: Reference) -> CheckGrade:
    """The bias (in reference posterior sds) or the sd ratio, with its Monte Carlo error: the
    method's MCSE and the reference's own error, and for a bias the error of the sd too."""
    se_ref = reference.errors.get(check, 0.0)
    z = z_score(value, ref, mcse, se_ref) if mcse is not None else None
    row = CheckGrade(check, ref, value, mcse, z=z)
    method_error = mcse or 0.0
    if parse_check(check)[2] == "sd":
        row.sd_ratio = value / ref if ref else math.nan
        row.error = math.hypot(method_error, row.sd_ratio * se_ref) / ref if ref else math.nan
        return row
    found = reference_sd(reference, check)
    if found is None:
        return row
    row.scale, sd_error = found
    row.bias = (value - ref) / row.scale if row.scale else math.nan
    row.error = (math.hypot(method_error, se_ref, row.bias * sd_error) / row.scale
                 if row.scale else math.nan)
    return row


def with_intervals(rows: list[CheckGrade], ungraded: dict[str, str]) -> list[CheckGrade]:
    """The rows that have a bias or an sd ratio, each with its interval (+- k errors, k for all
    of them together); a mean check without a reference sd goes to ``ungraded``, saying so."""
    ungraded |= {row.check: "the reference gives no posterior sd to measure its bias in"
                 for row in rows if row.graded is None}
    rows = [row for row in rows if row.graded is not None]
    k = interval_width(len(rows))
    for row in rows:
        row.low, row.high = row.graded - k * row.error, row.graded + k * row.error
    return rows


def decide(rows: list[CheckGrade]) -> tuple[str, tuple | None, tuple | None]:
    """The grade from every row's interval: the band when all intervals allow only one, else
    the two neighbouring bands or UNRESOLVED; and the bias and the sd ratio whose intervals
    reach furthest from perfect (a NaN as furthest)."""
    if not rows:
        return "ungraded", None, None
    bands = [row.bands() for row in rows]
    best, worst = max(b[0] for b in bands), max(b[1] for b in bands)
    if best == worst:
        grade = BANDS[best][0]
    elif worst == best + 1:
        grade = f"{BANDS[best][0]} or {BANDS[worst][0]}"
    else:
        grade = UNRESOLVED

    def furthest(kind: str) -> tuple | None:
        candidates = [r for r in rows if getattr(r, kind) is not None]
        if not candidates:
            return None
        row = max(candidates, key=lambda r: (r.distances()[1], abs(r.graded - r.centre)
                                             if math.isfinite(r.graded) else math.inf))
        return row.check, row.graded, row.low, row.high

    return grade, furthest("bias"), furthest("sd_ratio")


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
        bound = z_bound(len(reference.counted))
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
        rows = [_graded(check, float(reference.values[check]), value, None, reference)
                for check, value in point.items()]
        ungraded = {c: "not among its answers" for c in reference.values if c not in point}
        rows = with_intervals(rows, ungraded)
        grade, worst_bias, worst_ratio = decide(rows)
        grades[name] = MethodGrade(grade, rows, ungraded, worst_bias, worst_ratio)
    return grades


def _parsed(key: str) -> tuple | None:
    """``parse_check`` of an alternative's key, None for one that names no checked quantity
    ("sigma (shared)", "P(y_new >= 4)")."""
    try:
        return parse_check(key)
    except ValueError:
        return None
