"""The log-density cross-check: PyMC's log posterior against one written from the formulas.

Each PyMC model a fit samples (:meth:`zoo.core.model.ZooModel.densities`) is evaluated where NUTS
evaluates it, on its unconstrained (transformed) coordinates with the transforms' Jacobians,
at POINTS_PER_MODEL points: the model's initial point and deterministic perturbations of it
at several scales, so that the points reach from the start well into the tails. At each point
the same coordinates are mapped to the natural ones by the transforms' inverses, where the
model's independent log posterior (numpy/scipy, sharing nothing with ``build``) is evaluated,
and the log Jacobian of that map is added; it is computed here by differentiating the inverse
transform, not taken from the transform's own formula, so a wrong transform or Jacobian shows.
The two must differ by a constant (the normalising constants each side drops): a wrong prior,
likelihood, data handling or transform changes the difference from point to point whatever
its effect on the posterior. There is no Monte Carlo noise, and it is checked before sampling.

The tolerance. Both sides sum O(n) float64 terms, each with a relative rounding error of
about eps = 2.2e-16; the sum's absolute error is at most about n eps times the summed
magnitude, and the magnitude is bounded by the absolute values of the sides. For the zoo's
largest data (1e4 to 1e6 rows) n eps is 2e-12 to 2e-10, so RELATIVE_TOLERANCE = 1e-9 times
(1 + the largest |log density| of either side) leaves a margin of 5 or more for floating
point, while any fault that changes the log density by more than that fraction of the whole
is caught. Every fault in ``zoo.core.faults`` moves it by 3e-5 of the whole or more (gmm's
drop-last, one row in 10,000), some 3e4 times the tolerance; measured, a correct model stays
below 1e-14 of the whole.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.core.deferred import pd, pm, pt
from zoo.core.model import Density, ZooModel
from zoo.core.results import DensityCheck


#: the deviation allowed, as a fraction of 1 + the largest |log density| (module docstring)
RELATIVE_TOLERANCE = 1e-9
#: perturbation sds, on the unconstrained scale, of the points around the initial point
SCALES = (0.01, 0.1, 0.3, 1.0)
#: points per scale (the initial point itself comes first)
POINTS_PER_SCALE = 6
#: the seed of the perturbations: the check is the same at every run
SEED = 20_24
#: fewest points where both log densities are finite for a verdict
MIN_FINITE_POINTS = 10


@functools.cache
def check_mode():
    """Python thunks, no compiler: compiling the log density for NUTS (numba) takes seconds to
    minutes, this milliseconds to a few seconds, and a few dozen evaluations cost milliseconds.
    Made on first use, so that importing this module does not import PyTensor."""
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer="fast_compile")


@dataclass(frozen=True)
class Comparison:
    """One PyMC model against its independent log posterior."""

    label: str
    max_deviation: float
    tolerance: float
    points: int
    problem: str = ""

    @property
    def passed(self) -> bool:
        return not self.problem and self.max_deviation <= self.tolerance


def density_check(model: ZooModel, data: pd.DataFrame, settings: dict[str, Any],
                  built: pm.Model) -> DensityCheck:
    """Check every PyMC model the fit of ``model`` on ``data`` samples, ``built`` (its
    :meth:`~zoo.core.model.ZooModel.build` of ``data``) first (see the module docstring)."""
    start = time.perf_counter()
    comparisons = [compare(density) for density in model.densities(data, settings, built)]
    worst = max(comparisons, key=lambda c: (not c.passed, c.max_deviation / c.tolerance
                                             if c.tolerance > 0 else np.inf))
    notes = tuple(f"log-density check of {c.label}: {c.problem or describe(c)}"
                  for c in comparisons if not c.passed)
    return DensityCheck(all(c.passed for c in comparisons), worst.max_deviation, worst.tolerance,
                        sum(c.points for c in comparisons), time.perf_counter() - start, notes)


def describe(comparison: Comparison) -> str:
    return (f"PyMC's log density minus the independent one varies by up to "
            f"{comparison.max_deviation:.3g} over {comparison.points} points (tolerance "
            f"{comparison.tolerance:.3g}): the PyMC model and its formulas disagree")


def compare(density: Density) -> Comparison:
    """Both log densities at the check's points, and how far their difference is from constant."""
    if density.log_posterior is None:
        return Comparison(density.label, np.nan, 0.0, 0, "the model gives no independent log "
                          "posterior (ZooModel.log_posterior), so PyMC's cannot be checked")
    pymc_side = PymcSide(density.model)
    pymc_values, independent = [], []
    with np.errstate(all="ignore"):
        for point in check_points(density.model):
            logp, natural, log_jacobian = pymc_side(point)
            try:
                value = float(density.log_posterior(natural)) + log_jacobian
            except Exception as err:  # the model's own code: a verdict, not a crash
                return Comparison(density.label, np.nan, 0.0, 0, "the independent log posterior "
                                  f"raised {type(err).__name__}: {err}")
            pymc_values.append(logp)
            independent.append(value)
    return deviation(density.label, np.array(pymc_values), np.array(independent))


def deviation(label: str, pymc_values: np.ndarray, independent: np.ndarray) -> Comparison:
    """How far PyMC's minus the independent log density is from constant (from its median),
    leaving out points where both are -inf (outside the support on both sides); a point where
    only one of them is finite, or either is NaN or +inf, fails the check."""
    both_minus_inf = (pymc_values == -np.inf) & (independent == -np.inf)
    pymc_values, independent = pymc_values[~both_minus_inf], independent[~both_minus_inf]
    if not (np.isfinite(pymc_values) & np.isfinite(independent)).all():
        bad = int((~np.isfinite(pymc_values - independent)).sum())
        return Comparison(label, np.inf, 0.0, pymc_values.size, f"at {bad} point(s) one log "
                          "density is finite and the other is not (or NaN)")
    if pymc_values.size < MIN_FINITE_POINTS:
        return Comparison(label, np.nan, 0.0, pymc_values.size, f"only {pymc_values.size} "
                          f"points with a finite log density (at least {MIN_FINITE_POINTS} needed)")
    difference = pymc_values - independent
    magnitude = max(np.abs(pymc_values).max(), np.abs(independent).max())
    return Comparison(label, float(np.abs(difference - np.median(difference)).max()),
                      RELATIVE_TOLERANCE * (1.0 + float(magnitude)), pymc_values.size)


def check_points(model: pm.Model) -> list[dict[str, np.ndarray]]:
    """The initial point (unconstrained, unjittered) and POINTS_PER_SCALE perturbations of it
    per scale in SCALES, from a fixed seed."""
    initial = model.initial_point()
    rng = np.random.default_rng(SEED)
    points = [initial]
    for scale in SCALES:
        for _ in range(POINTS_PER_SCALE):
            points.append({name: value + scale * rng.standard_normal(np.shape(value))
                           for name, value in initial.items()})
    return points


class PymcSide:
    """PyMC's log density with its Jacobians, as NUTS sees it, and for the same point the
    natural values of the free variables and the log Jacobian of the inverse transforms,
    differentiated here from the inverses themselves."""

    def __init__(self, model: pm.Model):
        self.names = [rv.name for rv in model.free_RVs]
        naturals, jacobians = [], []
        for rv in model.free_RVs:
            value = model.rvs_to_values[rv]
            transform = model.rvs_to_transforms.get(rv)
            if transform is None:
                naturals.append(value)
                continue
            natural = model.replace_rvs_by_values([transform.backward(value, *rv.owner.inputs)])[0]
            naturals.append(natural)
            jacobians.append(pt.jacobian(pt.flatten(natural), value, vectorize=True))
        self.transformed = [model.rvs_to_transforms.get(rv) is not None for rv in model.free_RVs]
        self.function = model.compile_fn(inputs=model.value_vars,
                                         outs=[model.logp(), *naturals, *jacobians],
                                         mode=check_mode(), on_unused_input="ignore")

    def __call__(self, point: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray], float]:
        logp, *rest = self.function(point)
        naturals, jacobians = rest[:len(self.names)], iter(rest[len(self.names):])
        log_jacobian = sum(log_abs_det(natural, next(jacobians))
                           for natural, transformed in zip(naturals, self.transformed) if transformed)
        return float(logp), dict(zip(self.names, map(np.asarray, naturals))), float(log_jacobian)


def log_abs_det(natural: np.ndarray, jacobian_matrix: np.ndarray) -> float:
    """log |det| of d natural / d value. A simplex has one natural coordinate more per vector
    than its value: its density is over all but the last, so that row is dropped."""
    natural = np.asarray(natural)
    matrix = np.asarray(jacobian_matrix).reshape(natural.size, -1)
    vectors = natural.size // natural.shape[-1] if natural.ndim else 0
    if vectors and matrix.shape[0] == matrix.shape[1] + vectors:
        keep = np.ones(natural.shape, bool)
        keep[..., -1] = False
        matrix = matrix[keep.ravel()]
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a transform maps {matrix.shape[1]} values to {natural.size} "
                         "natural ones; the density check knows square maps and simplexes")
    return float(np.linalg.slogdet(matrix)[1])
