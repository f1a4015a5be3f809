"""The plots every model gets, drawn with ArviZ's own plotting (arviz-plots, matplotlib).

Each plot is saved as a PNG in the model's folder of the site. A plot that cannot be drawn
for a run (no energy in SMC output, a model whose likelihood cannot be sampled forward) is
replaced by a note that says why, never by a broken image.
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm
import xarray as xr

from zoo.compare import parse_check
from zoo.diagnostics import scalar_draws
from zoo.predictive import PPC_DRAWS, UNSUPPORTED, posterior_predictive

if TYPE_CHECKING:
    from zoo.results import Result

DPI = 72
#: scalars per plot: every checked one, then the others in order up to this many
MAX_PANELS = 8
REFERENCE_STYLE = {"color": "C3", "linestyle": "--", "linewidth": 1.5}


@dataclass
class Figures:
    """The plots written for one model, in page order, and why any plot is missing."""

    images: list[tuple[str, Path]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def save(figure: plt.Figure, folder: Path, name: str) -> Path:
    """Save a matplotlib figure as ``folder/name.png`` and free it."""
    path = Path(folder) / f"{name}.png"
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return path


def draw_all(result: Result, folder: Path) -> Figures:
    """The generic plots, then the model's own (its ``figures`` hook)."""
    figures = Figures()
    draws = scalar_draws(result.fit.idata)
    shown = panel_scalars(result, draws)
    if len(shown) < len(draws):
        figures.notes.append(f"trace, rank and density plots show {len(shown)} of {len(draws)} "
                             "scalars: the checked ones first")
    tree = panel_tree(result, {name: draws[name] for name in shown})
    steps = [
        ("trace", "Trace (left: density per chain; right: draws)", _trace),
        ("rank", "Rank plot (ECDF difference of ranks per chain; inside the band is good)", _rank),
        ("posterior", f"Posterior densities; dashed: the reference ({result.reference.method}), "
                      "shaded: its mean +- sd", _posterior),
        ("energy", "Energy: marginal energy against energy transitions (BFMI)", _energy),
        ("ppc", "Posterior predictive check: observed data against replicated data", _ppc),
    ]
    for name, title, draw in steps:
        start = time.perf_counter()
        with warnings.catch_warnings():  # ArviZ's advice on plot choice, not problems
            warnings.filterwarnings("ignore", category=UserWarning, module="arviz")
            note = draw(result, tree, folder / f"{name}.png")
        figures.seconds[name] = time.perf_counter() - start
        if note:
            figures.notes.append(f"{name}: {note}")
        else:
            figures.images.append((title, folder / f"{name}.png"))
        plt.close("all")
    start = time.perf_counter()
    figures.images += result.model.figures(result, folder)
    figures.seconds["model"] = time.perf_counter() - start
    plt.close("all")
    return figures


def panel_scalars(result: Result, draws: dict[str, np.ndarray]) -> list[str]:
    """The scalars to plot: the checked ones first, then the model's ``var_names``, at most
    MAX_PANELS (a model with 71 thetas would need 142 trace panels)."""
    checked = []
    for name in result.checks["name"]:
        if name in result.fit.estimates:
            continue
        var, index, _ = parse_check(name)
        scalar = var if index is None else f"{var}[{index}]"
        checked.append(scalar if scalar in draws else f"{var}[{index or 0}]")
    main = scalar_draws(result.fit.idata, result.model.var_names)
    return [name for name in dict.fromkeys([*checked, *main]) if name in draws][:MAX_PANELS]


def panel_tree(result: Result, draws: dict[str, np.ndarray]) -> xr.DataTree:
    """A DataTree whose posterior holds one (chain, draw) variable per scalar in ``draws``.

    Flattening to scalars makes the plots the same for every model: one panel per scalar,
    labelled like the checks (``theta[1]``).
    """
    source = result.fit.idata.posterior
    # without chain/draw coordinates ArviZ's rank plot draws one colour per draw, not per chain
    posterior = xr.Dataset({name: (("chain", "draw"), values) for name, values in draws.items()},
                           coords={"chain": source["chain"].values, "draw": source["draw"].values})
    groups = {"posterior": posterior}
    stats = result.fit.idata.children.get("sample_stats")
    if stats is not None and "draw" in stats.dims:
        groups["sample_stats"] = stats.to_dataset()
    return xr.DataTree.from_dict(groups)


def _trace(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    az.plot_trace_dist(tree).savefig(path, dpi=DPI)
    return None


def _rank(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    az.plot_rank(tree).savefig(path, dpi=DPI)
    return None


def _posterior(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    plot = az.plot_dist(tree)
    for scalar, (mean, sd) in reference_moments(result).items():
        if scalar not in tree.posterior:
            continue
        axes = plot.get_target(scalar, {})
        if sd is not None:
            axes.axvspan(mean - sd, mean + sd, color=REFERENCE_STYLE["color"], alpha=0.12)
        axes.axvline(mean, **REFERENCE_STYLE)
    plot.savefig(path, dpi=DPI)
    return None


def reference_moments(result: Result) -> dict[str, tuple[float, float | None]]:
    """Reference mean (and sd where checked) of each scalar, from the checks' names."""
    means: dict[str, float] = {}
    sds: dict[str, float] = {}
    for name, value in result.reference.values.items():
        if name in result.fit.estimates:
            continue
        var, index, stat = parse_check(name)
        scalar = var if index is None else f"{var}[{index}]"
        (means if stat == "mean" else sds)[scalar] = value
    return {scalar: (mean, sds.get(scalar)) for scalar, mean in means.items()}


def _energy(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    stats = result.fit.idata.children.get("sample_stats")
    if stats is None or "energy" not in stats:
        return f"skipped: the {result.config.sampler.upper()} output has no energy statistic"
    az.plot_energy(result.fit.idata).savefig(path, dpi=DPI)
    return None


def _ppc(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    idata = result.fit.idata
    if "observed_data" not in idata.children:
        return "skipped: the model has no observed variable to replicate"
    try:
        predictive = posterior_predictive(result)
    except UNSUPPORTED as err:
        return f"skipped: PyMC cannot sample this likelihood forward ({type(err).__name__}: {err})"
    observed = predictive["observed_data"]
    vectors = [name for name in observed.data_vars if observed[name].ndim > 0]
    if vectors and all(_is_whole(observed[name].values) for name in vectors):
        plot = az.plot_ppc_rootogram(predictive, var_names=vectors)
    elif vectors:
        plot = az.plot_ppc_dist(predictive, var_names=vectors, num_samples=min(50, PPC_DRAWS))
    else:  # a single observed number: its replicated values, with the observed one marked
        plot = az.plot_ppc_tstat(_with_observation_dim(predictive), t_stat="mean", kind="ecdf")
    plot.savefig(path, dpi=DPI)
    return None


def _is_whole(values: np.ndarray) -> bool:
    """Counts and 0/1 data, which a rootogram shows better than a density."""
    return bool(np.all(np.mod(np.asarray(values, dtype=float), 1) == 0))


def _with_observation_dim(predictive: xr.DataTree) -> xr.DataTree:
    """Scalars observed once get a length-1 dimension, which ArviZ's predictive plots need."""
    return xr.DataTree.from_dict({
        group: predictive[group].to_dataset().expand_dims("observation", axis=-1)
        for group in ("posterior_predictive", "observed_data")
    })


def model_graph(result: Result, folder: Path) -> Path | None:
    """PyMC's model graph as SVG, when the graphviz package and its ``dot`` binary exist."""
    if shutil.which("dot") is None:
        return None
    try:
        graph = pm.model_to_graphviz(result.model.build(result.data, result.settings))
    except ImportError:
        return None
    path = Path(folder) / "model_graph.svg"
    path.write_bytes(graph.pipe(format="svg"))
    return path


def new_figure(rows: int = 1, cols: int = 1, *, width: float = 7.0, height: float = 3.0, **kwargs):
    """A matplotlib figure and axes for a model's own plots, in the site's size."""
    return plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False,
                        constrained_layout=True, **kwargs)

