"""Turning a :class:`~zoo.core.results.Result` into text: the console table, the Markdown summary,
and the files of ``zoo run`` (written atomically: all or nothing)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from zoo.core.compare import parse_check, round_to_mcse
from zoo.core.deferred import pd
from zoo.core.diagnostics import ESS_BULK_MIN, ESS_LABEL, R_HAT_MAX
from zoo.core.option_names import flag
from zoo.core.outputs import staged_folder, written_files
from zoo.core.results import WEAKER_KINDS, Result
from zoo.core.sampling import stats_for_netcdf
from zoo.report.predictive import saved_tree


def status(result: Result) -> str:
    """CANNOT VERIFY, NOT CONVERGED, PASS or FAIL; a verdict against a weaker reference says
    so (``PASS (weaker check: EM)``)."""
    if result.reference.refusal is not None:
        return "CANNOT VERIFY"
    if not result.diagnostics.converged:
        return "NOT CONVERGED"
    verdict = "PASS" if result.passed else "FAIL"
    weaker = WEAKER_KINDS.get(result.reference.kind)
    return f"{verdict} (weaker check: {weaker})" if weaker else verdict


def checks_line(result: Result) -> str:
    """How many checks passed, of those that count, within which bound, against what kind of
    reference: the verdict's numbers on the console, in summary.md and on the page."""
    counted = result.counted_checks
    line = (f"{int(counted['passed'].sum())}/{len(counted)} checks within |z| <= "
            f"{result.z_bound:.2g}")
    derived = [f"{check} from {source}" for check, source in result.reference.derived.items()]
    if derived:
        line += f" ({', '.join(derived)}: derived, shown, not counted)"
    return f"{line}; reference: {result.reference.kind}"


#: the console shows at most this many checks and alternatives rows; the files hold them all
CONSOLE_ROWS = 12


def checks_table(result: Result, most: int | None = None,
                 names: list[str] | None = None) -> list[list[str]]:
    """Rows of the reference-vs-posterior table, numbers rounded to what their MCSE supports;
    with ``most``, only the failures and the largest |z| up to that many, in table order;
    with ``names``, only those checks, in that order."""
    checks = result.checks
    if names is not None:
        checks = checks.set_index("name", drop=False).loc[names]
    if most is not None and len(checks) > most:
        checks = checks.loc[sorted(worst_first(checks)[:max(most, (~checks["passed"]).sum())])]
    rows = [["check", result.reference.method, "posterior", "mcse", "z", ""]]
    for check in checks.itertuples():
        rows.append([
            check.name,
            f"{check.reference:.6g}",
            round_to_mcse(check.estimate, check.mcse),
            f"{check.mcse:.2g}",
            f"{check.z:+.2f}",
            "ok" if check.passed else "FAIL",
        ])
    return rows


def worst_first(checks: pd.DataFrame) -> pd.Index:
    """The checks' index, failures first, then by |z| from the largest (a NaN z as infinite)."""
    key = checks["z"].abs().fillna(float("inf")) + 1e9 * ~checks["passed"]
    return key.sort_values(ascending=False, kind="stable").index


#: a checked variable with at most this many scalars is a main (model-level) quantity; more
#: are per-group or per-observation quantities (rat-tumors' 71 theta_j)
MAIN_SCALARS = 5


def main_checks(result: Result) -> list[str]:
    """The checks of model-level quantities: variables checked for at most MAIN_SCALARS
    scalars (theta, omega, alpha, mu[k], log_bf), not rat-tumors' every theta_j."""
    def variable(name: str) -> tuple[str, int | None]:
        try:
            return parse_check(name)[:2]
        except ValueError:  # a name of another form is a quantity of its own
            return name, None

    scalars: dict[str, set] = {}
    for name in result.checks["name"]:
        var, index = variable(name)
        scalars.setdefault(var, set()).add(index)
    return [name for name in result.checks["name"]
            if len(scalars[variable(name)[0]]) <= MAIN_SCALARS]


def alternatives_table(result: Result) -> list[list[str]]:
    """Rows of the alternatives table: one row per quantity, one column per other method.

    A point estimate named by its quantity alone (EM's ``mu[0]``) is the row of that
    quantity's mean (the reference's ``mu[0].mean``): named apart, each method's values were
    rows of their own and the table a diagonal of blanks."""
    alternatives = result.alternatives()
    means = {q for values in alternatives.values() for q in values if q.endswith(".mean")}
    aligned = {method: {f"{q}.mean" if f"{q}.mean" in means else q: v for q, v in values.items()}
               for method, values in alternatives.items()}
    quantities = list(dict.fromkeys(q for values in aligned.values() for q in values))
    rows = [["quantity", *aligned]]
    for quantity in quantities:
        rows.append([quantity, *(_number(aligned[m].get(quantity)) for m in aligned)])
    return rows


def summary_table(result: Result) -> list[list[str]]:
    """Rows of ArviZ's summary table, index first."""
    summary = result.summary
    return [["", *summary.columns]] + [
        [str(index), *(_number(v) for v in row)] for index, row in zip(summary.index, summary.values)
    ]


def diagnostics_line(result: Result) -> str:
    d = result.diagnostics
    line = (f"max R-hat {d.r_hat_max:.3f} (<= {R_HAT_MAX}), min bulk ESS {d.ess_bulk_min:.0f} "
            f"(>= {ESS_BULK_MIN}), divergences {d.divergences}")
    if d.stuck_chains:
        line += f", stuck chains {d.stuck_chains}"
    return line


def density_verdict(result: Result) -> str:
    """The log-density cross-check in a few words, for status lines."""
    return "log density agrees" if result.density_check.passed else "log density DISAGREES"


def density_line(result: Result) -> str:
    """The log-density cross-check (zoo.core.density_check) with its figures."""
    d = result.density_check
    return (f"{density_verdict(result)} with the model's formulas: max deviation "
            f"{d.max_deviation:.2g} (<= {d.tolerance:.2g}) at {d.points} points, "
            f"{d.seconds:.2f} s")


def problems(result: Result) -> list[str]:
    """The diagnostics' problems; a bulk ESS under its floor says what to do, naming the
    option as the reader typed it (--draws, or draws= in Python)."""
    floor = f"{ESS_LABEL} "
    return [f"{p}; raise {flag('draws')} (now {result.config.draws})"
            if p.startswith(floor) and f" < {ESS_BULK_MIN} " in p else p
            for p in result.diagnostics.problems]


def console(result: Result) -> str:
    """What ``zoo run`` and ``zoo verify`` print."""
    c = result.config
    alternatives = alternatives_table(result)
    lines = [
        f"{result.model.name}: {result.model.title}",
        f"data: {result.data_source}; settings: {_settings_text(result)}",
        f"sampler {c.describe()}; seed {c.seed}",
        "",
        align_columns(checks_table(result, CONSOLE_ROWS)),
        *_more(len(result.checks), CONSOLE_ROWS, "checks within the bound, the smaller |z|"),
        "",
        folded_columns(alternatives[: CONSOLE_ROWS + 1], shutil.get_terminal_size().columns),
        *_more(len(alternatives) - 1, CONSOLE_ROWS, "rows"),
        "",
        "diagnostics: " + diagnostics_line(result),
        *(f"  problem: {p}" for p in problems(result)),
        "log-density check: " + density_line(result),
        *(f"  note: {n}" for n in result.notes()),
        *([f"  reference: {result.reference.refusal}"] if result.reference.refusal else []),
        f"{status(result)}: {checks_line(result)}; {density_verdict(result)}; {time_split(result)}",
    ]
    return "\n".join(lines)


def time_split(result: Result) -> str:
    """Where the run's seconds went: compiling, sampling (every fit's), the reference and
    the rest (start-up and imports, the log-density check, graph building, diagnostics, the
    model's own additions)."""
    s = result.seconds
    total = s["total"]  # not the sum of the parts: imports happen inside the fit too
    compiling, sampling = s.get("compiling", 0.0), s.get("sampling_total", 0.0)
    other = total - compiling - sampling - s["reference"]
    return (f"time {total:.1f} s: compile {compiling:.1f} s, sampling {sampling:.1f} s, "
            f"reference {s['reference']:.2f} s ({result.reference_source}), other {other:.1f} s")


def _more(total: int, shown: int, what: str) -> list[str]:
    """A line saying how many rows the console left out, and where they are."""
    if total <= shown:
        return []
    return [f"... and {total - shown} more {what} (all in --json, result.json and summary.md)"]


def markdown(result: Result) -> str:
    """The short Markdown summary saved beside the posterior."""
    c = result.config_dict()
    versions = ", ".join(f"{k} {v}" for k, v in c["versions"].items())
    return "\n".join([
        f"# {result.model.name}: {result.model.title}",
        "",
        f"**{status(result)}**: {checks_line(result)}; {diagnostics_line(result)}.",
        *(f"- problem: {p}" for p in problems(result)),
        f"- {density_line(result)}",
        *([f"- reference: {result.reference.refusal}"] if result.reference.refusal else []),
        "",
        result.model.describe(),
        "",
        *(f"$${line}$$" for line in result.model.formula),
        "",
        "## Reference against posterior",
        "",
        markdown_table(checks_table(result)),
        "",
        "## Methods",
        "",
        markdown_table(alternatives_table(result)),
        "",
        "## ArviZ summary",
        "",
        markdown_table(summary_table(result)),
        "",
        *(f"- note: {n}" for n in result.notes()),
        "",
        "## Provenance",
        "",
        f"- data: {c['data']}; settings: {_settings_text(result)}",
        f"- sampler: {result.config.describe()}; seed {c['seed']}",
        f"- versions: {versions}",
        f"- wall time: {time_split(result)}",
        "",
    ])


def write_run(result: Result, out: Path) -> list[Path]:
    """Write posterior.nc, summary.md and result.json into ``out``, all or nothing
    (:func:`zoo.core.outputs.staged_folder`: a killed or failed run leaves the previous results).

    posterior.nc holds everything the page shows: the posterior, the replicated data of the
    predictive check and the pointwise log-likelihood (LOO), and the run's further fits
    (rat-tumors' pooling levels) as groups ``extra_NAME``.
    """
    out = Path(out)
    tree, missing = saved_tree(result)
    tree = _netcdf_ready(tree)
    for name, extra in result.fit.extra.items():
        tree[f"extra_{name}"] = _netcdf_ready(extra)
    tree.attrs["zoo_notes"] = "; ".join(missing) or "posterior_predictive and log_likelihood saved"
    with staged_folder(out) as staging:
        start = time.perf_counter()
        tree.to_netcdf(staging / "posterior.nc")
        (staging / "summary.md").write_text(markdown(result))
        result.seconds["writing"] = time.perf_counter() - start  # all but result.json itself
        (staging / "result.json").write_text(result.to_json())
    return written_files(out)


def _netcdf_ready(idata):
    """NetCDF cannot store object arrays: text stats become strings, SMC's ragged stats floats."""
    stats = idata.children.get("sample_stats")
    if stats is not None and any(v.dtype == object for v in stats.data_vars.values()):
        return stats_for_netcdf(idata)
    return idata


def _settings_text(result: Result) -> str:
    return ", ".join(f"{k}={v}" for k, v in result.config_dict()["settings"].items()) or "none"


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    return str(value)


def align_columns(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
                     for row in rows)


def folded_columns(rows: list[list[str]], width: int) -> str:
    """:func:`align_columns` folded to ``width``: the columns after the first go into blocks
    that fit, one under the other, each repeating the first column (rat-tumors' alternatives
    with the pooling comparison were 166 characters wide)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    blocks, block, used = [], [], widths[0]
    for i in range(1, len(widths)):
        if block and used + 2 + widths[i] > width:
            blocks.append(block)
            block, used = [], widths[0]
        block.append(i)
        used += 2 + widths[i]
    blocks.append(block)
    return "\n\n".join(align_columns([[row[0], *(row[i] for i in block)] for row in rows])
                       for block in blocks)


def markdown_table(rows: list[list[str]]) -> str:
    """``rows`` (the first the header) as a Markdown table; "" for no rows."""
    if not rows:
        return ""
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)
