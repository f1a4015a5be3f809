"""The diagnostic report: a static HTML site (and its Markdown twin) for a set of runs.

``out/index.html`` lists the models; ``out/MODEL/index.html`` shows one run: the model, data,
settings, tables and plots, with provenance. Everything a page shows is in the folder, so it
opens from disk and offline. The site is built in a temporary folder and moved into place
whole (:func:`zoo.core.outputs.staged_folder`): an interrupted build leaves the previous site.
"""

from __future__ import annotations

import csv
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from zoo.core.compare import Z_BOUND
from zoo.core.diagnostics import ESS_BULK_MIN, R_HAT_MAX
from zoo.core.outputs import SITE, staged_folder
from zoo.core.results import Result
from zoo.report.figures import LEAD_PLOTS, Figures, draw_all, formula_image, model_graph
from zoo.report.text import (alternatives_table, checks_line, checks_table, density_line,
                             density_verdict, diagnostics_line, main_checks, markdown, markdown_table,
                             problems, status, summary_table, worst_first)

if TYPE_CHECKING:
    import jinja2

#: packages that draw the site, recorded beside the ones that change the numbers
SITE_PACKAGES = ["arviz-plots", "matplotlib", "jinja2"]

T = TypeVar("T")


@dataclass
class Site:
    """Where the site went and how long each model's page took (the report's added cost)."""

    index: Path
    seconds: dict[str, float]


def progress(items: Iterable[T], description: str, enabled: bool,
             total: int | None = None) -> Iterator[T]:
    """A progress bar over ``items`` (``total`` of them, for an iterator) on a terminal (rich,
    as PyMC's own bars); plain otherwise."""
    if not enabled or not sys.stdout.isatty():
        yield from items
        return
    from rich.progress import track

    yield from track(items, description=description, total=total, transient=True)


def build_site(results: list[Result], out: Path = SITE, *, command: str | None = None,
               show_progress: bool = False, sections: list[dict] = ()) -> Site:
    """Write the site for ``results`` to ``out``, all or nothing; ``sections``: the zoo-wide
    tables of the index (:func:`zoo.tools.sections.site_sections`), none by default."""
    out = Path(out)
    context = {"command": command or shlex.join(["zoo", *sys.argv[1:]]),
               "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    environment = _environment()
    seconds, thumbnails = {}, {}
    with staged_folder(out) as staging:
        for result in progress(results, "report", show_progress):
            start = time.perf_counter()
            thumbnails[result.model.name] = _write_model_page(
                result, staging / result.model.name, environment, context)
            seconds[result.model.name] = time.perf_counter() - start
        rows = [index_row(result, thumbnails[result.model.name]) for result in results]
        page = {**context, "rows": rows, "passed": sum(r.passed for r in results),
                "z_bound": f"{Z_BOUND:g}", "r_hat_max": R_HAT_MAX, "ess_min": ESS_BULK_MIN,
                "provenance": [["what", "value"], *_version_rows(results[0])],
                "sections": list(sections)}
        (staging / "index.html").write_text(environment.get_template("index.html.j2").render(page))
        (staging / "index.md").write_text(index_markdown(rows, context, page["sections"]))
    return Site(out / "index.html", seconds)


def index_row(result: Result, thumbnail: str = "") -> dict[str, str]:
    """One model's line in the index: what it is, a small picture (a plot of its page), and
    how its run went."""
    d = result.diagnostics
    z = result.checks["z"].abs()
    return {
        "name": result.model.name,
        "what": result.model.title,
        "thumbnail": f"{result.model.name}/{thumbnail}" if thumbnail else "",
        "link": f"{result.model.name}/index.html",
        "status": status(result),
        "worst_z": f"{z.max(skipna=False):.2f}" if len(z) else "",  # a NaN z shows as nan
        "r_hat": f"{d.r_hat_max:.3f}",
        "ess": f"{d.ess_bulk_min:.0f}",
        "divergences": str(d.divergences),
        "sampler": sampler_name(result),
        "seconds": f"{result.seconds['total']:.1f}",  # the console's, not the page's time
        "failing": failing_cells(result),
    }


def failing_cells(result: Result) -> list[str]:
    """The index cells of ``result`` past their bound, which the index highlights: a failed
    check's worst |z|, R-hat above or ESS below the bound (NaN fails), any divergence."""
    d = result.diagnostics
    bad = {"worst_z": not result.checks["passed"].all(),
           "r_hat": not d.r_hat_max <= R_HAT_MAX,
           "ess": not d.ess_bulk_min >= ESS_BULK_MIN,
           "divergences": d.divergences > 0}
    return [cell for cell, failed in bad.items() if failed]


def sampler_name(result: Result) -> str:
    config = result.config
    if config.sampler == "smc":
        return "SMC"
    return f"NUTS ({config.nuts_sampler})"


def index_markdown(rows: list[dict[str, str]], context: dict[str, str],
                   sections: list[dict]) -> str:
    header = ["model", "what it is", "status", r"worst \|z\|", "max R-hat", "min ESS",
              "divergences", "sampler", "wall time (s)"]
    keys = ["what", "status", "worst_z", "r_hat", "ess", "divergences", "sampler", "seconds"]
    table = [header] + [[f"[{r['name']}]({r['name']}/index.md)",
                         *(f"**{r[k]}**" if k in r["failing"] else r[k] for k in keys)] for r in rows]
    lines = ["# Bayesian model zoo", "", markdown_table(table), ""]
    for section in sections:
        lines += [f"## {section['title']}", "", markdown_table(section["rows"]), "",
                  *(f"- {note}" for note in section["notes"]), ""]
    return "\n".join([*lines, f"Written by `{context['command']}` on {context['date']}.", ""])


def _environment() -> jinja2.Environment:
    import jinja2  # here: a verify that writes no report does not wait for it

    return jinja2.Environment(loader=jinja2.PackageLoader("zoo.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def _write_model_page(result: Result, folder: Path, environment: jinja2.Environment,
                      context: dict[str, str]) -> str:
    """The model's page (HTML and Markdown), its plots and its full tables as CSV; returns the
    file of its index thumbnail. The page leads with the verdict and the plots a reader looks
    at first, then compact tables, the model, and the full tables folded."""
    folder.mkdir()
    start = time.perf_counter()
    figures = draw_all(result, folder)
    graph = model_graph(result.pymc_model(), folder)
    formula = formula_image(result.model, folder)
    report_seconds = time.perf_counter() - start
    main, worst = main_checks(result), worst_checks(result)
    tables = {"checks": checks_table(result), "alternatives": alternatives_table(result),
              "summary": summary_table(result)}
    page = {
        **context,
        "name": result.model.name,
        "title": result.model.title,
        "about": result.model.describe(),
        "status": status(result),
        "verdict": f"{checks_line(result)}; {diagnostics_line(result)}; "
                   f"{density_verdict(result)}",
        "problems": [*filter(None, [result.reference.refusal]), *problems(result)],
        "formula": formula.name if formula else None,
        "formula_text": "; ".join(result.model.formula),
        "graph": graph.path.name if graph.path else None,
        "graph_note": graph.note,
        "data_source": result.data_source,
        "data_rows": len(result.data),
        "data_summary": data_summary(result),
        "settings": settings_rows(result),
        "main": checks_table(result, names=main),
        "worst": checks_table(result, names=worst) if worst else None,
        "n_other": len(result.checks) - len(main),
        "n_checks": len(result.checks),
        **tables,
        "csv": write_csv_tables(result, tables, folder),
        "diagnostics": diagnostics_line(result),
        "density_check": density_line(result),
        "notes": result.notes(),
        "lead": [(caption, path.name) for caption, path in figures.lead],
        "more": [(caption, path.name) for caption, path in figures.more],
        "figure_notes": figures.notes,
        "provenance": provenance_rows(result, figures, report_seconds, context),
    }
    (folder / "index.html").write_text(environment.get_template("model.html.j2").render(page))
    (folder / "index.md").write_text(model_markdown(result, figures, page))
    return thumbnail(figures)


#: the compact table of the worst checks shows this many (the full table is folded below it)
WORST_ROWS = 10
def worst_checks(result: Result) -> list[str]:
    """The WORST_ROWS checks of largest |z| (a failure or NaN z first) that are not main
    quantities, which their own table shows (gmm's 18 checks were both tables' rows)."""
    main = set(main_checks(result))
    names = result.checks.loc[worst_first(result.checks), "name"]
    return [name for name in names if name not in main][:WORST_ROWS]


def write_csv_tables(result: Result, tables: dict[str, list[list[str]]], folder: Path) -> dict[str, str]:
    """The full tables beside the page as CSV, at full precision: the checks (with each
    reference's own error), the alternatives and ArviZ's summary. {table: file}."""
    checks = result.checks.assign(
        reference_error=[result.reference.errors.get(name, 0.0) for name in result.checks["name"]])
    checks.to_csv(folder / "checks.csv", index=False)
    result.summary.to_csv(folder / "summary.csv")
    with open(folder / "alternatives.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(tables["alternatives"])
    return {"checks": "checks.csv", "alternatives": "alternatives.csv", "summary": "summary.csv"}


def thumbnail(figures: Figures) -> str:
    """The index's picture of a model: its own first plot, else the posterior densities."""
    own = [path for _, path in figures.lead if path.stem not in (*LEAD_PLOTS, "rank")]
    generic = [path for _, path in figures.lead if path.stem == "posterior"]
    chosen = (own or generic or [path for _, path in figures.images] or [None])[0]
    return chosen.name if chosen else ""


def data_summary(result: Result) -> list[list[str]]:
    """pandas' describe() of every column, one row per column; the counts as whole numbers
    (``.4g`` printed 10,000 rows as "1e+04")."""
    described = result.data.describe(include="all").T
    counts = {"count", "unique", "freq"}

    def cell(statistic: str, value) -> str:
        if _missing(value):
            return ""
        if statistic in counts:
            return f"{int(value):,}"
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    return [["column", *map(str, described.columns)]] + [
        [str(column), *(cell(statistic, v) for statistic, v in zip(described.columns, row))]
        for column, row in zip(described.index, described.values)
    ]


def settings_rows(result: Result) -> list[list[str]]:
    c = result.config_dict()
    rows = [["setting", "value"], ["data", c["data"]]]
    rows += [[key, str(value)] for key, value in c["settings"].items()]
    rows += [[key, str(c[key])] for key in ("sampler", "nuts_sampler", "chains", "draws", "tune",
                                            "target_accept", "seed") if c[key] is not None]
    return rows


def provenance_rows(result: Result, figures: Figures, report_seconds: float,
                    context: dict[str, str]) -> list[list[str]]:
    c = result.config_dict()
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in {**result.seconds, "report": report_seconds}.items())
    plot_seconds = ", ".join(f"{k} {v:.1f} s" for k, v in figures.seconds.items())
    return [
        ["what", "value"],
        ["command line", context["command"]],
        ["date", context["date"]],
        ["sampler", f"{result.config.describe()}; cores {c['cores']}"],
        ["seed", str(c["seed"])],
        ["wall time", seconds],
        ["reference", result.reference_source],
        ["plot time", plot_seconds],
        *_version_rows(result),
    ]


def model_markdown(result: Result, figures: Figures, page: dict) -> str:
    """The run's Markdown summary (as ``zoo run`` writes it) with the plots and provenance."""
    images = [f"![{caption}]({path.name})\n\n{caption}\n" for caption, path in figures.images]
    return "\n".join([
        markdown(result),
        "## Plots",
        "",
        *images,
        *(f"- {note}" for note in figures.notes),
        "",
        "## Run",
        "",
        markdown_table(page["provenance"]),
        "",
    ])


def _version_rows(result: Result) -> list[list[str]]:
    versions = {**result.config_dict()["versions"], **{p: version(p) for p in SITE_PACKAGES}}
    return [[f"version of {package}", v] for package, v in versions.items()]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)
