"""``zoo sweep``: one model verified once for each value of one numeric setting.

Each value is an ordinary :func:`zoo.core.pipeline.run`; the sweep gathers every check, the
diagnostics and the wall time into one table (printed, and saved as ``sweep.csv``) and plots
each ``*.mean`` check's posterior mean and 89 % equal-tailed interval against the value, with
the reference marked and every other method the reference gives beside it (``Reference.alternatives``:
a grid, raw proportions, EM) marked at each value (``sweep.png``).
Everything is validated before the first fit, and files are written all or nothing.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from zoo.core import parsers, pipeline
from zoo.core.arguments import fit_options, sampler_config
from zoo.core.compare import check_draws, parse_check, round_to_mcse
from zoo.core.errors import UsageError
from zoo.core.model import ZooModel
from zoo.core.outputs import staged_folder, written_files
from zoo.core.registry import get_model
from zoo.core.results import Result
from zoo.core.sampling import SamplerConfig
from zoo.report.text import align_columns, status

ETI_PROB = 0.89
#: the prefix of a column of ``sweep.csv`` that holds another method's answer
ALTERNATIVE = "alternative: "
#: the markers of the other methods, in the order they come: open, so that the reference's
#: cross shows through where a method agrees with it
METHOD_MARKERS = ("s", "D", "^", "v")


@dataclass
class SweepRun:
    """One value of the swept setting and what verifying the model there found."""

    text: str
    value: int | float  # int when the text is a whole number, so that the CSV says K=5, not 5.0
    result: Result
    seconds: float


def parse_over(model: ZooModel, over: str, set_pairs: list[str]) -> tuple[str, list[str]]:
    """``KEY=v1,v2,...`` -> (KEY, [v1, v2, ...]); every value a number the setting accepts."""
    key, sep, listed = over.partition("=")
    key = key.strip()
    values = [v.strip() for v in listed.split(",") if v.strip()]
    if not sep or not values:
        raise UsageError(f"--over {over!r}: expected KEY=V1,V2,... e.g. K=5,20,75")
    if key not in model.settings:
        known = ", ".join(model.settings) or "none"
        raise UsageError(f"--over {key}: {model.name} has no setting {key!r} (known: {known})")
    if any(pair.partition("=")[0].strip() == key for pair in set_pairs):
        raise UsageError(f"--over {key} and --set {key}=... cannot go together")
    for text in values:
        try:
            parsers.number(text)
        except ValueError as err:
            raise UsageError(f"--over {key}={text}: {err}; a sweep needs numeric values") from None
    return key, values


def sweep(
    model: ZooModel,
    key: str,
    values: list[str],
    data_path: str | Path | None = None,
    set_pairs: list[str] | None = None,
    config: SamplerConfig = SamplerConfig(),
    progress=print,
) -> list[SweepRun]:
    """Verify ``model`` once per value of setting ``key``; settings and data are checked first."""
    pairs = [[*(set_pairs or []), f"{key}={text}"] for text in values]
    for settings_pairs in pairs:
        model.load(data_path, model.parse_settings(settings_pairs,
                                                   user_data=data_path is not None))
    runs = []
    for text, settings_pairs in zip(values, pairs):
        start = time.perf_counter()
        result = pipeline.run(model, data_path, settings_pairs, config)
        runs.append(SweepRun(text, _value(text), result, time.perf_counter() - start))
        progress(f"{key}={text}: {status(result)} in {runs[-1].seconds:.1f} s")
    return runs


def sweep_frame(runs: list[SweepRun], key: str) -> pd.DataFrame:
    """One row per value and check: reference, estimate, MCSE, z, 89 % ETI and the run's health."""
    rows = []
    for swept in runs:
        result, diag = swept.result, swept.result.diagnostics
        for check in result.checks.itertuples():
            low, high = _eti(result, check.name)
            rows.append({
                key: swept.value, "check": check.name, "reference": check.reference,
                "estimate": check.estimate, "mcse": check.mcse, "z": check.z,
                "check_passed": check.passed, "eti89_lb": low, "eti89_ub": high,
                "r_hat_max": diag.r_hat_max, "ess_bulk_min": diag.ess_bulk_min,
                "divergences": diag.divergences, "run_passed": result.passed,
                "seconds": swept.seconds,
                **{ALTERNATIVE + method: values[check.name]
                   for method, values in result.reference.alternatives.items()
                   if check.name in values},
            })
    return pd.DataFrame(rows)


#: what a cell of the console table holds
CELL_LEGEND = ("each cell: posterior estimate, to the digits its MCSE supports (reference) "
               "z = (estimate - reference) / sqrt(mcse^2 + reference error^2)")


def console_table(runs: list[SweepRun], key: str) -> str:
    """Checks down, values across: 'estimate (reference) z' (legend first), then the
    diagnostics of each run."""
    rows = [["check", *(f"{key}={r.text}" for r in runs)]]
    for name in runs[0].result.checks["name"]:
        cells = []
        for swept in runs:
            check = swept.result.checks.set_index("name").loc[name]
            cells.append(f"{round_to_mcse(check.estimate, check.mcse)} ({check.reference:.4g}) "
                         f"{check.z:+.1f}")
        rows.append([name, *cells])
    rows += [
        ["max R-hat", *(f"{r.result.diagnostics.r_hat_max:.3f}" for r in runs)],
        ["min bulk ESS", *(f"{r.result.diagnostics.ess_bulk_min:.0f}" for r in runs)],
        ["divergences", *(str(r.result.diagnostics.divergences) for r in runs)],
        ["status", *(status(r.result) for r in runs)],
        ["wall time (s)", *(f"{r.seconds:.1f}" for r in runs)],
    ]
    return CELL_LEGEND + "\n" + align_columns(rows)


def plot(frame: pd.DataFrame, key: str, title: str) -> Figure:
    """Each mean check (``*.mean``, or a name without a statistic) against the swept value: posterior mean with its 89 % ETI as bars,
    the reference as a cross, other methods' answers as markers of their own, unjoined (a line
    would suggest values between the swept ones). Checks whose references all lie
    in [0, 1] share a panel; every other variable gets its own."""
    means = frame[[parse_check(name)[2] == "mean" for name in frame["check"]]]
    panels = _panels(means) or [[]]
    figure = Figure(figsize=(9, 3.6 * len(panels)))  # no pyplot: no backend, nothing to close
    axes = figure.subplots(len(panels), 1, squeeze=False)
    values = np.sort(frame[key].unique())
    log_x = values.min() > 0 and values.max() / values.min() >= 10
    methods = [c for c in frame.columns if c.startswith(ALTERNATIVE)]
    markers = dict(zip(methods, METHOD_MARKERS * len(methods)))
    for ax, checks in zip(axes[:, 0], panels):
        drawn = set()
        for offset, (name, colour) in enumerate(zip(checks, _colours())):
            rows = means[means["check"] == name].sort_values(key)
            x = _dodge(rows[key].to_numpy(), offset - (len(checks) - 1) / 2, log_x)
            bars = np.array([rows["estimate"] - rows["eti89_lb"], rows["eti89_ub"] - rows["estimate"]])
            ax.errorbar(x, rows["estimate"], yerr=np.nan_to_num(bars), fmt="o", color=colour,
                        capsize=3, label=f"{name} (89 % ETI)")
            ax.plot(x, rows["reference"], "x", color="black", markersize=7, zorder=4)
            for method in methods:
                if rows[method].notna().any():
                    ax.plot(x, rows[method], markers[method], color=colour, markersize=9,
                            fillstyle="none", zorder=3)
                    drawn.add(method)
        ax.plot([], [], "x", color="black", label="reference")
        for method in sorted(drawn, key=methods.index):
            ax.plot([], [], markers[method], color="black", markersize=9, fillstyle="none",
                    label=method.removeprefix(ALTERNATIVE))
        ax.set_xscale("log" if log_x else "linear")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.xaxis.set_minor_locator(NullLocator())  # a log axis labels its minor ticks: clutter
        ax.set_xlabel(key)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes[0, 0].set_title(title if len(means) else f"{title}: no mean checks to plot")
    figure.tight_layout()
    return figure


def write_sweep(frame: pd.DataFrame, figure: Figure, out: Path) -> list[Path]:
    """sweep.csv and sweep.png into ``out``, all or nothing."""
    with staged_folder(Path(out)) as staging:
        frame.to_csv(staging / "sweep.csv", index=False)
        figure.savefig(staging / "sweep.png", dpi=100)
    return written_files(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo sweep`` options (and the fit options of every fitting command)."""
    parser.add_argument("model")
    parser.add_argument("--over", required=True, metavar="KEY=V1,V2,...",
                        help="the setting to sweep and its values, e.g. K=5,20,75,200")
    fit_options(parser)
    parser.add_argument("--out", type=Path, help="output folder (default reports/sweep-MODEL-KEY)")


def sweep_command(args: argparse.Namespace) -> int:
    """What ``zoo sweep`` does: 0 if every run passed, 1 otherwise (bad input raises first)."""
    model, config = get_model(args.model), sampler_config(args)
    key, values = parse_over(model, args.over, args.set_pairs)
    start = time.perf_counter()
    runs = sweep(model, key, values, args.data, args.set_pairs, config,
                 progress=lambda line: print(line, flush=True))
    frame = sweep_frame(runs, key)
    print("\n" + console_table(runs, key))
    title = f"{model.name}: posterior mean and 89 % ETI against {key} (x: reference)"
    written = write_sweep(frame, plot(frame, key, title), args.out)
    passed = all(r.result.passed for r in runs)
    print(f"{sum(r.result.passed for r in runs)}/{len(runs)} runs passed; sweep wall time "
          f"{time.perf_counter() - start:.1f} s")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0 if passed else 1


def _value(text: str) -> int | float:
    """The swept setting's value: whole numbers as int (K=5), others as float."""
    value = parsers.number(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _eti(result: Result, name: str) -> tuple[float, float]:
    """The 89 % equal-tailed interval of a ``*.mean`` check's variable (NaN for other checks)."""
    var, _, stat = parse_check(name)
    if stat != "mean" or name in result.fit.estimates or var not in result.fit.idata.posterior:
        return math.nan, math.nan
    draws = check_draws(result.fit.idata.posterior, name).ravel()
    low, high = np.quantile(draws, [(1 - ETI_PROB) / 2, (1 + ETI_PROB) / 2])
    return float(low), float(high)


def _panels(means: pd.DataFrame) -> list[list[str]]:
    """Check names grouped into panels: probabilities together, other variables apart."""
    names = list(dict.fromkeys(means["check"]))
    by_var: dict[str, list[str]] = {}
    for name in names:
        by_var.setdefault(parse_check(name)[0], []).append(name)
    unit = [n for n in names if means.loc[means["check"] == n, "reference"].between(0, 1).all()]
    others = [[n for n in group if n not in unit] for group in by_var.values()]
    return [group for group in [unit, *others] if group]


def _dodge(x: np.ndarray, step: float, log_x: bool) -> np.ndarray:
    """Shift a series sideways so that intervals at the same value do not overlap."""
    return x * 1.04**step if log_x else x + step * 0.015 * (np.ptp(x) or 1.0)


def _colours():
    return matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] * 10
