"""``zoo methods``' plots: the models x methods heat map of the worst bias, and each model's
marginals by method against the reference.

The zoo's references are moments (a mean and an sd per quantity), not densities, so the
reference is drawn as its mean (black line) and mean +- 1 sd (grey band); each method that
draws is a density of its draws, a point method (MAP) a dashed line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from zoo.core.compare import check_draws, parse_check, reference_sd
from zoo.tools.methods.catalog import ordered_methods
from zoo.tools.methods.grading import ACCURATE_BIAS, UNRESOLVED, USABLE_BIAS, scalar

#: panels per model: the first scalars with a mean and an sd reference
MAX_PANELS = 9
#: the heat map's colour range of |bias| in sds (log scale)
BIAS_RANGE = (0.01, 3.0)
#: the heat map's mark for each grade
INITIALS = {"accurate": "A", "accurate or usable": "A/U", "usable": "U",
            "usable or misleading": "U/M", "misleading": "M", UNRESOLVED: "?", "unconverged": "NC"}


def marginals(result, path: Path) -> None:
    """One panel per checked scalar: every method's draws against the reference mean +- sd."""
    reference = result.reference
    scalars = [c for c in reference.values
               if parse_check(c)[2] == "mean" and reference_sd(reference, c) is not None]
    scalars = [c for c in scalars if any(_covers(run, c) for run in result.runs)][:MAX_PANELS]
    if not scalars:
        return
    cols = min(3, len(scalars))
    rows = math.ceil(len(scalars) / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(max(4.2 * cols, 8.0), 2.8 * rows + 0.6), squeeze=False,
                                constrained_layout=True)
    for ax, check in zip(axes.ravel(), scalars):
        _panel(ax, result, check)
    for ax in axes.ravel()[len(scalars):]:
        ax.set_axis_off()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6),
                  fontsize="small")
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _covers(run, check: str) -> bool:
    outcome, var = run.outcome, parse_check(check)[0]
    if outcome.idata is not None:
        return var in outcome.idata.posterior
    return outcome.point is not None and var in outcome.point


def _panel(ax, result, check: str) -> None:
    var, index, _ = parse_check(check)
    mean, sd = result.reference.values[check], reference_sd(result.reference, check)[0]
    ax.axvspan(mean - sd, mean + sd, color="0.88", label="reference mean +- sd")
    ax.axvline(mean, color="black", linewidth=1.2, label="reference mean")
    grid = np.linspace(mean - 4 * sd, mean + 4 * sd, 200)
    for i, run in enumerate(result.runs):
        if not _covers(run, check):
            continue
        colour = f"C{i % 10}"
        if run.outcome.idata is not None:
            x = check_draws(run.outcome.idata.posterior, check).ravel()
            density, edges = np.histogram(x[np.isfinite(x)], bins=grid[::5], density=True)
            ax.stairs(density, edges, color=colour, label=run.method.name)
        else:
            ax.axvline(scalar(run.outcome.point[var], index), color=colour, linestyle="--",
                       label=run.method.name)
    ax.set(title=check.removesuffix(".mean"), xlim=(grid[0], grid[-1]))
    ax.set_yticks([])


def heat_map(summary: dict[str, Any], path: Path) -> None:
    """Models x methods coloured by worst |bias| (log scale), each cell with its grade's
    initial and the number; grey where the method did not run or was not graded."""
    models = list(summary["models"])
    methods = ordered_methods(summary)
    grid = np.full((len(models), len(methods)), np.nan)
    labels = [["" for _ in methods] for _ in models]
    for i, model in enumerate(models):
        entry = summary["models"][model]
        answers = {**entry["methods"], **entry["alternatives"]}
        for j, method in enumerate(methods):
            answer = answers.get(method)
            if answer is None:
                continue
            bias = answer.get("worst_bias")
            if bias is not None and answer["grade"] in INITIALS:
                grid[i, j] = min(max(abs(bias), BIAS_RANGE[0]), BIAS_RANGE[1]) \
                    if math.isfinite(bias) else BIAS_RANGE[1]
                labels[i][j] = f"{INITIALS[answer['grade']]}\n{abs(bias):.2g}"
            else:
                labels[i][j] = {"failed": "x", "not installed": "n/i"}.get(answer["grade"], "n/g")
    figure, ax = plt.subplots(figsize=(1.0 * len(methods) + 2.5, 0.6 * len(models) + 2),
                              constrained_layout=True)
    cmap = plt.get_cmap("RdYlGn_r").with_extremes(bad="0.8")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto",
                      norm=matplotlib.colors.LogNorm(*BIAS_RANGE))
    for i in range(len(models)):
        for j in range(len(methods)):
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
    ax.set_yticks(range(len(models)), models)
    bar = figure.colorbar(image, ax=ax, label="worst |bias| (posterior sds)")
    for level in (ACCURATE_BIAS, USABLE_BIAS):
        bar.ax.axhline(level, color="black", linewidth=0.8)
    ax.set_title("A accurate, U usable, M misleading (A/U, U/M: either, within the Monte Carlo "
                 "error; ? not resolved), NC not converged; x did not run, n/i not installed, "
                 "n/g not graded", fontsize="small", wrap=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
