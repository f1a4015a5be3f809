"""Is the grid behind the exact reference draws fine enough? (``zoo posteriordb export``)

mint and rat-tumors draw their hyperparameters from a fine grid (a cell by its mass, then a
uniform point in it; ``zoo.numerics.exact_draws``) and the rest from exact conditional Betas. The draws'
distribution is exact up to the grid's discretisation. This measures that error in the unit that
matters, the Monte Carlo error of a 10,000-draw reference (sd / 100 for a mean, sd / 141 for an
sd): the moments the draws follow (the cell masses, each cell's uniform spread included for the
grid's own axes) against the exact quadrature (mint) or a grid with twice the cells per axis
(rat-tumors: the error is O(h^2), so that difference is 3/4 of the draw grid's error).

Measured 2026-11-30 (2 CPUs, loaded; 4 x 4 sub-points per cell for mint, 2 x 2 for rat-tumors):
    mint K=5 (1-D omega, 20,000 cells): max 0.0000 MCSE units (omega.sd)
    mint K=free (2-D, 1,000 cells per axis): max 0.0134 MCSE units (kappa.sd)
    rat-tumors (2-D, 1,000 cells per axis): max 0.0287 MCSE units (log_alpha_plus_beta.sd)
so the discretisation moves no check by more than 3% of its reference's Monte Carlo error (a
z by at most 0.03). With 500 cells per axis rat-tumors' error would be about 4 times larger.

Usage: python benchmarks/posteriordb_grid_error.py
"""

import numpy as np
from scipy.special import logsumexp

from zoo.models import mint, rat_tumors
from zoo.numerics.exact import beta_from_mode, beta_mean_sd
from zoo.numerics.exact_draws import midpoints, trimmed_box

DRAWS = 10_000


def in_mcse_units(found: dict[str, float], exact: dict[str, float]) -> tuple[float, str]:
    """The largest |found - exact| over the checks, in units of a 10,000-draw MCSE."""
    def unit(name):
        sd = exact[name.rsplit(".", 1)[0] + ".sd"]
        return sd / np.sqrt(DRAWS) if name.endswith(".mean") else sd / np.sqrt(2 * DRAWS)

    errors = {name: abs(found[name] - exact[name]) / unit(name) for name in exact if name in found}
    worst = max(errors, key=errors.get)
    return errors[worst], worst


def cell_moments(log_density, box, cells, features, sub: int = 4) -> dict[str, float]:
    """Means and sds under the draws' law: cell masses, ``sub`` uniform sub-points per cell and
    axis (the midpoint rule inside each cell)."""
    edges = [np.linspace(lo, hi, cells + 1) for lo, hi in box]
    grids = np.meshgrid(*map(midpoints, edges), indexing="ij")
    log_mass = log_density(*grids)
    mass = np.exp(log_mass - logsumexp(log_mass))
    widths = [e[1] - e[0] for e in edges]
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    total: dict[str, float] = {}
    for shift in np.ndindex(*(sub,) * len(box)):
        point = [g + offsets[i] * w for g, i, w in zip(grids, shift, widths)]
        for name, (m1, m2) in features(*point).items():
            total[name + ".m1"] = total.get(name + ".m1", 0) + np.sum(mass * m1) / sub ** len(box)
            total[name + ".m2"] = total.get(name + ".m2", 0) + np.sum(mass * m2) / sub ** len(box)
    names = {key.rsplit(".", 1)[0] for key in total}
    return {f"{n}.{stat}": value for n in names for stat, value in (
        ("mean", total[n + ".m1"]), ("sd", np.sqrt(total[n + ".m2"] - total[n + ".m1"] ** 2)))}


def mint_error(pairs: list[str]) -> tuple[float, str]:
    settings = mint.MODEL.parse_settings(pairs)
    counts = mint.coin_counts(mint.MODEL.default_data(settings))
    heads, flips = counts.heads.astype(float), counts.flips.astype(float)
    K, A, B = settings["K"], settings["A"], settings["B"]
    free = isinstance(K, mint.FreeK)

    grid = mint.draw_grid(heads, flips, K, A, B)

    def features(x, v=None):
        omega = grid.to_omega(x)
        kappa = 2 + np.exp(v) if free else K
        a, b = beta_from_mode(omega, kappa)
        found = {"omega": (omega, omega**2)}
        if free:
            found["kappa"] = (kappa, kappa**2)
        for s, (z, n) in enumerate(zip(heads, flips)):
            mean, sd = beta_mean_sd(a + z, b + n - z)
            found[f"theta[{s}]"] = (mean, sd**2 + mean**2)
        return found

    exact = mint.exact_posterior(counts.heads, counts.flips, K, A, B)
    return in_mcse_units(cell_moments(grid.log_density, grid.box, grid.cells, features), exact)


def rat_tumors_error() -> tuple[float, str]:
    tumors, rats = rat_tumors._counts(rat_tumors.MODEL.default_data({}))
    mode_u, mode_v = rat_tumors.posterior_mode_uv(tumors, rats)
    search = [(mode_u - rat_tumors.SEARCH_HALF_WIDTH_U, mode_u + rat_tumors.SEARCH_HALF_WIDTH_U),
              (mode_v - rat_tumors.SEARCH_BELOW_V, mode_v + rat_tumors.SEARCH_ABOVE_V)]

    def log_density(u, v):
        return rat_tumors.log_posterior_uv(u, v, tumors, rats)

    def features(u, v):
        alpha, beta = rat_tumors.alpha_beta(u, v)
        found = {"log_alpha_over_beta": (u, u**2), "log_alpha_plus_beta": (v, v**2),
                 "alpha": (alpha, alpha**2), "beta": (beta, beta**2)}
        for j, (y, n) in enumerate(zip(tumors, rats)):
            mean, sd = beta_mean_sd(alpha + y, beta + n - y)
            found[f"theta[{j}]"] = (mean, sd**2 + mean**2)
        return found

    box = trimmed_box(log_density, search)
    draw_grid = cell_moments(log_density, box, rat_tumors.DRAW_CELLS, features, sub=2)
    finer = cell_moments(log_density, box, 2 * rat_tumors.DRAW_CELLS, features, sub=2)
    error, worst = in_mcse_units(draw_grid, finer)
    return error * 4 / 3, worst  # O(h^2): error(h) = 4/3 (m(h) - m(h/2))


def main() -> None:
    for label, (error, worst) in [("mint K=5", mint_error([])), ("mint K=free", mint_error(["K=free"])),
                                  ("rat-tumors", rat_tumors_error())]:
        print(f"{label}: max {error:.4f} MCSE units ({worst})")


if __name__ == "__main__":
    main()
