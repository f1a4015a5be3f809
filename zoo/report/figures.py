"""The plots every model gets, drawn with ArviZ's own plotting (arviz-plots, matplotlib).

Each plot is saved as a PNG in the model's folder of the site. A plot that cannot be drawn
for a run (no energy in SMC output, a model whose likelihood cannot be sampled forward) is
replaced by a note that says why, never by a broken image.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.core.compare import parse_check, scalar_of
from zoo.core.deferred import az, plt, pm, xr
from zoo.core.diagnostics import scalar_draws
from zoo.report.predictive import PPC_DRAWS, UNSUPPORTED, posterior_predictive
from zoo.report.text import main_checks, worst_first

if TYPE_CHECKING:
    from zoo.core.results import Result

DPI = 72
#: scalars per plot (gmm's nine: mu, sigma and w of three components)
MAX_PANELS = 9
REFERENCE_STYLE = {"color": "C3", "linestyle": "--", "linewidth": 1.5}


#: the generic plots a reader looks at first, before any table; the model's own follow them,
#: then the rank plot; the rest (trace, energy, predictive check) come after the tables
LEAD_PLOTS = ("checks", "posterior")


@dataclass
class Figures:
    """The plots written for one model and why any plot is missing: ``lead`` (what a reader
    looks at first: the checks, reference over posterior, the model's own, ranks) and
    ``more`` (trace, energy, predictive check), each as (caption, file)."""

    lead: list[tuple[str, Path]] = field(default_factory=list)
    more: list[tuple[str, Path]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def images(self) -> list[tuple[str, Path]]:
        return [*self.lead, *self.more]


def save(figure: plt.Figure, folder: Path, name: str, dpi: int = DPI) -> Path:
    """Save a matplotlib figure as ``folder/name.png`` and free it."""
    path = Path(folder) / f"{name}.png"
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return path


def save_plot(plot, path: Path) -> None:
    """Save an ArviZ plot laid out by matplotlib's constrained layout: ArviZ's own grid let a
    second row's titles overlap the tick labels above them (mint's eta[1])."""
    figure = plot.viz["figure"].item()
    figure.set_layout_engine("constrained")
    figure.savefig(path, dpi=DPI)


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
        ("checks", f"Every check: z = (posterior - reference) / its error, one dot each; inside "
                   f"the band |z| <= {result.z_bound:.2g} passes, a red cross fails", _checks),
        ("posterior", f"Posterior densities; dashed: the reference ({result.reference.method}), "
                      "shaded: its mean +- sd", _posterior),
        ("model", "", None),
        ("rank", "Rank plot: ECDF of each chain's fractional ranks minus the uniform one; chains "
                 "sampling the same posterior stay inside the grey band", _rank),
        ("trace", "Trace (left: density per chain; right: draws)", _trace),
        ("energy", "Energy: marginal energy against energy transitions (BFMI)", _energy),
        ("ppc", "Posterior predictive check: the observed data against data sets replicated "
                "from the posterior", _ppc),
    ]
    for name, title, draw in steps:
        start = time.perf_counter()
        try:
            if draw is None:  # the model's own plots (its ``figures`` hook)
                figures.lead += result.model.figures(result, folder)
            else:
                with warnings.catch_warnings():  # ArviZ's advice on plot choice, not problems
                    warnings.filterwarnings("ignore", category=UserWarning, module="arviz")
                    note = draw(result, tree, folder / f"{name}.png")
                if note:
                    figures.notes.append(f"{name}: {note}")
                else:
                    lead = name in (*LEAD_PLOTS, "rank")
                    (figures.lead if lead else figures.more).append((title, folder / f"{name}.png"))
        except Exception as err:  # noqa: BLE001 - an optional plot never takes the report down
            (folder / f"{name}.png").unlink(missing_ok=True)
            figures.notes.append(f"{name}: could not be drawn ({_error_text(err)})")
        figures.seconds[name] = time.perf_counter() - start
        plt.close("all")
    return figures


#: of many checks, the z plot names this many: the failures, else the largest |z|
LABELLED = 6


def _checks(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    """z of every check against its index, the +-bound band shaded; failures as red crosses,
    a z that is not finite as a red triangle on the edge. Few checks are named on the axis;
    of many, the first LABELLED failures (or, with none, the LABELLED largest |z|) are."""
    checks = result.checks.reset_index(drop=True)
    if checks.empty:
        return "skipped: the model has no checks"
    z, bound = checks["z"].to_numpy(dtype=float), result.z_bound
    finite = np.isfinite(z)
    top = max(bound * 1.3, float(np.abs(z[finite]).max(initial=0.0)) * 1.1)
    shown = np.where(finite, z, np.copysign(top * 0.95, np.nan_to_num(z, nan=1.0)))
    failed = ~checks["passed"].to_numpy(dtype=bool)
    figure, axes = new_figure(width=10.0, height=3.2)
    ax = axes[0, 0]
    x = np.arange(len(z))
    ax.axhspan(-bound, bound, color="C2", alpha=0.12, lw=0)
    for level in (-bound, bound):
        ax.axhline(level, color="C2", lw=1, ls="--")
    ax.axhline(0, color="grey", lw=0.6)
    ax.plot(x[~failed], shown[~failed], "o", color="C0", ms=4 if len(z) > 40 else 6, label="passed")
    ax.plot(x[failed & finite], shown[failed & finite], "X", color="C3", ms=9, label="failed")
    ax.plot(x[~finite], shown[~finite], "^", color="C3", ms=9, label="z not finite")
    ax.set_ylim(-top, top)
    ax.set_ylabel("z")
    names = checks["name"].tolist()
    if len(z) <= 20:
        ax.set_xticks(x, names, rotation=40, ha="right", fontsize=8)
    else:
        ax.set_xlabel(f"the {len(z)} checks, in table order")
        labelled = sorted(np.flatnonzero(failed)[:LABELLED] if failed.any()
                          else np.argsort(-np.abs(shown), kind="stable")[:LABELLED])
        # spread along the row between the band and the plot's edge on the point's side:
        # neighbouring checks' labels stacked beside their points covered each other
        for side in (1, -1):
            mine = [i for i in labelled if np.copysign(1, shown[i]) == side]
            slots = np.linspace(0, len(z) - 1, len(mine) + 2)[1:-1]
            for slot, i in zip(slots, mine):
                ax.annotate(names[i], (x[i], shown[i]), xytext=(slot, side * (bound + top) / 2),
                            ha="center", va="center", fontsize=8,
                            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                  "alpha": 0.8},
                            arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.5})
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    save(figure, path.parent, path.stem, dpi=100)  # the page's widest plot: readable text
    return None


def formula_image(model, folder: Path) -> Path | None:
    """The model's ``formula`` (TeX lines) drawn with matplotlib's mathtext as ``formula.png``;
    None when the model gives none. Nothing is fetched: the page stays offline."""
    lines = list(model.formula)
    if not lines:
        return None
    figure = plt.figure(figsize=(7.0, 0.45 * len(lines) + 0.1))
    for i, line in enumerate(lines):
        figure.text(0.01, 1 - (i + 0.6) / len(lines), f"${line}$", fontsize=13, va="center")
    return save(figure, folder, "formula", dpi=110)


def panel_scalars(result: Result, draws: dict[str, np.ndarray]) -> list[str]:
    """The scalars to plot, at most MAX_PANELS, all checked ones: the model-level quantities
    (:func:`zoo.report.text.main_checks`), then the others from the largest |z| (of rat-tumors' 71
    thetas, the worst fitted, not four alike). A model none of whose checks is a drawn scalar
    shows its ``var_names``."""
    checks = result.checks
    main = main_checks(result)
    others = [name for name in checks.loc[worst_first(checks), "name"] if name not in set(main)]
    checked = [_scalar(name, draws) for name in [*main, *others]]
    shown = [name for name in dict.fromkeys(checked) if name in draws]
    if not shown:
        shown = [name for name in scalar_draws(result.fit.idata, result.model.var_names)
                 if name in draws]
    return shown[:MAX_PANELS]


def _scalar(check: str, draws: dict[str, np.ndarray]) -> str | None:
    """The drawn scalar a check is about (``theta[3].mean``: ``theta[3]``); None if none."""
    try:
        var, index, _ = parse_check(check)
    except ValueError:  # a quantity of its own (log_bf)
        return None
    scalar = scalar_of(check)
    return scalar if scalar in draws else f"{var}[{index or 0}]"


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
    """Each scalar's name on its draws' panel as a title, not ArviZ's vertical y label, which
    a panel's height cut ("log_alpha_over_bet")."""
    plot = az.plot_trace_dist(tree)
    for axes in plot.viz["figure"].item().axes:
        if axes.get_ylabel() and axes.get_xlabel() == "Draw":
            axes.set_title(axes.get_ylabel(), fontsize=9, loc="left")
            axes.set_ylabel("")
    save_plot(plot, path)
    return None


def _rank(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    """ArviZ's rank plot with its band of uniform ranks and its y axis: by default it draws
    neither (a multi-chain test's p-value instead), and the caption promises the band."""
    save_plot(az.plot_rank(tree, method="envelope", visuals={"remove_axis": False}), path)
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
    save_plot(plot, path)
    return None


def reference_moments(result: Result) -> dict[str, tuple[float, float | None]]:
    """Reference mean (and sd where checked) of each drawn scalar, from the checks' names,
    also where the check compares the fit's own estimate (rat-tumors' Rao-Blackwell thetas)."""
    means: dict[str, float] = {}
    sds: dict[str, float] = {}
    for name, value in result.reference.values.items():
        var, _, stat = parse_check(name)
        if var not in result.fit.idata.posterior:  # no draws (log_bf, an SMC estimate)
            continue
        (means if stat == "mean" else sds)[scalar_of(name)] = value
    return {scalar: (mean, sds.get(scalar)) for scalar, mean in means.items()}


def _energy(result: Result, tree: xr.DataTree, path: Path) -> str | None:
    stats = result.fit.idata.children.get("sample_stats")
    if stats is None or "energy" not in stats:
        return f"skipped: the {result.config.sampler.upper()} output has no energy statistic"
    save_plot(az.plot_energy(result.fit.idata), path)
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
    ppc_legend(plot)
    save_plot(plot, path)
    return None


#: the visuals of ArviZ's predictive plots (rootogram, dist, tstat) that show each side
OBSERVED_VISUALS = ("observed_markers", "observed_dist", "observed_tstat")
REPLICATED_VISUALS = ("predictive_markers", "predictive_dist", "dist")


def ppc_legend(plot) -> None:
    """One legend above an ArviZ predictive plot, observed against replicated, drawn from the
    plot's own artists (so in its colours): ArviZ draws none."""
    def first_artist(names):
        name = next(name for name in names if name in plot.viz.children)
        return next(iter(plot.viz[name].to_dataset().data_vars.values())).values.ravel()[0]

    figure = plot.viz["figure"].item()
    figure.legend([first_artist(OBSERVED_VISUALS), first_artist(REPLICATED_VISUALS)],
                  ["observed data", "replicated from the posterior"],
                  loc="outside upper center", ncols=2, fontsize=9, frameon=False)


def _is_whole(values: np.ndarray) -> bool:
    """Counts and 0/1 data, which a rootogram shows better than a density."""
    return bool(np.all(np.mod(np.asarray(values, dtype=float), 1) == 0))


def _with_observation_dim(predictive: xr.DataTree) -> xr.DataTree:
    """Scalars observed once get a length-1 dimension, which ArviZ's predictive plots need."""
    return xr.DataTree.from_dict({
        group: predictive[group].to_dataset().expand_dims("observation", axis=-1)
        for group in ("posterior_predictive", "observed_data")
    })


def graph_missing_reason() -> str | None:
    """Why PyMC's model graph cannot be drawn here (None: it can): it needs the Python package
    graphviz and graphviz's ``dot`` program."""
    missing = []
    if importlib.util.find_spec("graphviz") is None:
        missing.append("the Python package graphviz (pip install graphviz)")
    if shutil.which("dot") is None:
        missing.append("graphviz's dot program (Debian: apt-get install graphviz)")
    return " and ".join(missing) + " not installed" if missing else None


@dataclass
class ModelGraph:
    """PyMC's model graph as drawn for a page: ``path`` of its SVG (None: not drawn) and
    ``note``, what a reader should know (why it is missing, or drawn without plates)."""

    path: Path | None
    note: str | None = None


def model_graph(model: pm.Model, folder: Path) -> ModelGraph:
    """PyMC's model graph of ``model`` as ``folder/model_graph.svg``.

    PyMC finds the plates by evaluating each variable's shape, which samples the variable
    and fails for one it cannot sample (rat-tumors' pm.Flat hyperpriors); the graph is then
    drawn again with the shapes that can be found without sampling, and the note says in
    plain words which variables PyMC could not draw and why. An optional figure never takes
    the report down: whatever still fails is the note, naming the error (a bug to report).
    """
    missing = graph_missing_reason()
    if missing:
        return ModelGraph(None, f"{missing}; the report draws PyMC's graph where both are")
    path = Path(folder) / "model_graph.svg"
    try:
        path.write_bytes(_graph_with_plates(model).pipe(format="svg"))
        return ModelGraph(path)
    except Exception as err:  # noqa: BLE001 - any failure of PyMC's drawing: try the fallback
        first = _error_text(err)
    try:
        path.write_bytes(_graph_with_known_shapes(model).pipe(format="svg"))
    except Exception as err:  # noqa: BLE001 - the page says what failed
        return ModelGraph(None, f"PyMC's graph failed ({first}) and so did the graph without "
                                f"the shapes it could evaluate ({_error_text(err)})")
    return ModelGraph(path, _plates_note(model))


def _plates_note(model: pm.Model) -> str:
    """One plain sentence for a graph drawn by :func:`_graph_with_known_shapes`: the variables
    PyMC could not draw at random (those whose own draw fails, not the ones that fail only
    because they depend on them) and why."""
    from pymc.distributions.continuous import FlatRV
    from pytensor.graph.traversal import ancestors

    failing = [rv for rv in model.basic_RVs if not _can_draw(rv)]
    roots = [rv for rv in failing
             if not any(other is not rv and other in set(ancestors([rv])) for other in failing)]
    if not roots:
        return "Plates from the declared dimensions: PyMC's own layout failed on this model."
    names = " and ".join(filter(None, [", ".join(rv.name for rv in roots[:-1]), roots[-1].name]))
    if all(isinstance(rv.owner.op, FlatRV) for rv in roots):  # HalfFlatRV is one too
        what, why = f"the flat priors {names}", "have no distribution to draw from"
    else:
        what, why = names, "have no random generator in PyMC"
    return (f"PyMC sizes the plates by drawing every variable at random, and {what} {why}, "
            "so the plates come from the declared dimensions.")


def _can_draw(rv) -> bool:
    """Whether PyMC can evaluate ``rv``'s shape, which samples it (as PyMC's graph does)."""
    from pymc.model_graph import fast_eval

    try:
        fast_eval(rv.shape)
        return True
    except Exception:  # noqa: BLE001 - any failure: PyMC's graph would fail on it too
        return False


def _graph_with_plates(model: pm.Model):
    return pm.model_to_graphviz(model)


def _graph_with_known_shapes(model: pm.Model):
    """PyMC's graph with plates grouped by each variable's shape found without sampling: from
    its dims' lengths, else by evaluating it, else its static shape (none: no plate)."""
    from pymc.model_graph import DimInfo, ModelGraph as PymcGraph, NodeInfo, Plate, fast_eval
    from pymc.model_graph import get_node_type, make_graph

    dim_lengths = {dim: int(fast_eval(length)) for dim, length in model.dim_lengths.items()}

    def shape(name: str) -> tuple[int, ...]:
        dims = model.named_vars_to_dims.get(name) or ()
        if dims and all(dim in dim_lengths for dim in dims):
            return tuple(dim_lengths[dim] for dim in dims)
        try:
            return tuple(map(int, fast_eval(model[name].shape)))
        except Exception:  # noqa: BLE001 - sampled to find its shape; fall back to the static one
            static = model[name].type.shape
            return () if None in static else tuple(static)

    graph = PymcGraph(model)
    plates: dict[DimInfo, list[NodeInfo]] = {}
    for name in graph.vars_to_plot():
        lengths = shape(name)
        dims = tuple(model.named_vars_to_dims.get(name) or ())
        key = DimInfo(names=dims if len(dims) == len(lengths) else (None,) * len(lengths),
                      lengths=lengths)
        plates.setdefault(key, []).append(NodeInfo(model[name], get_node_type(name, model)))
    return make_graph(model.name, [Plate(key, nodes) for key, nodes in plates.items()],
                      graph.edges())


def _error_text(err: BaseException) -> str:
    """An exception as one short line: its type and its message's first line."""
    first_line = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first_line}" if first_line else type(err).__name__


def new_figure(rows: int = 1, cols: int = 1, *, width: float = 7.0, height: float = 3.0, **kwargs):
    """A matplotlib figure and axes for a model's own plots, in the site's size."""
    return plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False,
                        constrained_layout=True, **kwargs)

