"""Independent draws from exact posteriors, for the models' ``reference_draws`` hook.

Why a module of its own: posteriordb takes exact draws as a reference posterior
(``zoo posteriordb export``), and the models share two ways of making them: a Beta cut to an
interval (by its inverse CDF), and a density known on a fine grid (a cell chosen by its mass,
then a uniform point inside it). The grid's error is that of the midpoint rule, O(h^2) in every
moment; :func:`grid_draws` trims the box to where the mass is first, so the cells are small
where the posterior is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoo.core.deferred import special, stats

#: mass left beyond each edge of a trimmed grid box
TAIL_MASS = 1e-12


def truncated_beta(a: float, b: float, lower: float, upper: float, size, rng) -> np.ndarray:
    """Beta(a, b) restricted to [lower, upper], by its inverse CDF (exact up to rounding)."""
    low, high = stats.beta.cdf([lower, upper], a, b)
    return stats.beta.ppf(rng.uniform(low, high, size), a, b)


def midpoints(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


def trimmed_box(log_density: Callable[..., np.ndarray], bounds: list[tuple[float, float]],
                points: int = 400) -> list[tuple[float, float]]:
    """``bounds`` cut, axis by axis, to where a coarse grid leaves at most TAIL_MASS beyond each
    edge (one coarse cell kept on each side, so the cut never drops mass the grid saw)."""
    axes = [midpoints(np.linspace(lo, hi, points + 1)) for lo, hi in bounds]
    log_mass = log_density(*np.meshgrid(*axes, indexing="ij"))
    mass = np.exp(log_mass - special.logsumexp(log_mass))
    box = []
    for axis, (x, (lo, hi)) in enumerate(zip(axes, bounds)):
        marginal = mass.sum(axis=tuple(i for i in range(len(axes)) if i != axis))
        cumulative = np.cumsum(marginal)
        first = max(int(np.searchsorted(cumulative, TAIL_MASS)) - 1, 0)
        last = min(int(np.searchsorted(cumulative, 1 - TAIL_MASS)) + 1, points - 1)
        width = (hi - lo) / points
        box.append((max(lo, x[first] - width / 2), min(hi, x[last] + width / 2)))
    return box


def grid_draws(log_density: Callable[..., np.ndarray], box: list[tuple[float, float]],
               cells: int, size, rng) -> np.ndarray:
    """Draws of a d-dimensional density on ``cells`` cells per axis over ``box``: a cell with
    probability proportional to its midpoint density, then uniform inside it. Shape
    ``(*size, d)``."""
    edges = [np.linspace(lo, hi, cells + 1) for lo, hi in box]
    log_mass = log_density(*np.meshgrid(*map(midpoints, edges), indexing="ij"))
    probability = np.exp(log_mass - special.logsumexp(log_mass)).ravel()
    count = int(np.prod(size))
    flat = rng.choice(probability.size, size=count, p=probability / probability.sum())
    index = np.unravel_index(flat, log_mass.shape)
    points = [e[i] + rng.uniform(size=count) * (e[i + 1] - e[i]) for e, i in zip(edges, index)]
    return np.stack(points, axis=-1).reshape(*np.atleast_1d(size), len(box))
