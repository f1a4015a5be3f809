"""``zoo methods``' tables and files: the console table, the JSON and CSV in reports/methods/,
the zoo-wide summary the report site reads, the heat map and each model's marginals."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import tempfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from zoo.core.results import PACKAGES
from zoo.core.sampling import DEFAULT_TARGET_ACCEPT, DEFAULT_TUNE
from zoo.tools.methods import ModelMethods, MethodRun
from zoo.tools.methods.catalog import ADVI_ITERATIONS, APPROXIMATION_DRAWS, ordered_methods
from zoo.tools.methods.figures import heat_map, marginals
from zoo.tools.methods.grading import (ACCURATE_BIAS, ACCURATE_SD, GRADE_ALPHA, UNRESOLVED, USABLE_BIAS,
                                       USABLE_SD, MethodGrade, parse_check)

SUMMARY = "summary.json"
#: packages that only some methods use; their versions are recorded when installed
METHOD_PACKAGES = ["pymc-extras", "jax", "numpyro", "blackjax"]
THRESHOLDS = (f"accurate: every |bias| < {ACCURATE_BIAS:g} reference posterior sd and sd ratio "
              f"within {ACCURATE_SD:.0%}; usable: |bias| < {USABLE_BIAS:g} sd and sd ratio within "
              f"{USABLE_SD:.0%}; misleading otherwise; a band only when the intervals (Monte Carlo "
              f"error of the method and the reference, {1 - GRADE_ALPHA:.0%} jointly) lie inside it, "
              f"else two neighbouring bands ('accurate or usable') or '{UNRESOLVED}'; a sampler "
              "whose R-hat, ESS, divergences or chains fail is unconverged whatever its bias")


# --- one method's line ---------------------------------------------------------------------------

def method_record(run: MethodRun) -> dict[str, Any]:
    """Everything about one method on one model, as JSON."""
    outcome, grade = run.outcome, run.grade
    status = "not installed" if outcome.missing else "failed" if outcome.error else "ran"
    return {
        "method": run.method.name, "kind": run.method.kind, "label": run.method.label,
        "status": status, "error": outcome.error, **grade_record(grade),
        "ess_per_second": ess_per_second(run),
        "seconds": {"compile": outcome.compile_seconds, "run": outcome.run_seconds,
                    "total": outcome.total_seconds},
        "info": outcome.info, "notes": outcome.notes,
    }


def grade_record(grade: MethodGrade) -> dict[str, Any]:
    def worst(item):
        return None if item is None else dict(zip(("check", "value", "low", "high"), item))

    return {"grade": grade.grade, "worst_bias": worst(grade.worst_bias),
            "worst_sd_ratio": worst(grade.worst_sd_ratio), "z_passed": grade.z_passed,
            "diagnostics": grade.diagnostics,
            "checks": [row.as_dict() for row in grade.checks], "ungraded": grade.ungraded}


def ess_per_second(run: MethodRun) -> float | None:
    """A sampler's smallest bulk ESS per second of sampling (None for other methods)."""
    diag, seconds = run.grade.diagnostics, run.outcome.run_seconds
    if not diag or not seconds:
        return None
    return diag["ess_bulk_min"] / seconds


def model_document(result: ModelMethods) -> dict[str, Any]:
    """One model's JSON document."""
    config = result.config
    return {
        "model": result.model,
        "settings": result.settings,
        "reference": {"method": result.reference.method, "kind": result.reference.kind,
                      "values": result.reference.values, "errors": result.reference.errors,
                      "sds": result.reference.sds},
        "config": {
            "seed": config.seed, "draws": config.draws, "chains": config.chains,
            "cores": config.cores,
            "tune": {s: config.tune or DEFAULT_TUNE[s] for s in ("nutpie", "pymc")},
            "target_accept": {s: config.target_accept or DEFAULT_TARGET_ACCEPT[s]
                              for s in ("nutpie", "pymc")},
            "jax_samplers": "PyMC's NUTS settings (tune, target_accept)",
            "advi_iterations": ADVI_ITERATIONS, "approximation_draws": APPROXIMATION_DRAWS,
            "thresholds": THRESHOLDS, "versions": versions(),
        },
        "methods": [method_record(run) for run in result.runs],
        "alternatives": [{"method": name, **grade_record(grade)}
                         for name, grade in result.alternatives.items()],
        "seconds": result.seconds,
    }


def versions() -> dict[str, str]:
    found = {}
    for package in [*PACKAGES, *METHOD_PACKAGES]:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


# --- console -----------------------------------------------------------------------------------

HEADER = ["method", "grade", "worst bias (sd) [interval]", "worst sd ratio [interval]", "z",
          "R-hat", "min ESS", "div", "compile s", "run s", "ESS/s"]


def console(result: ModelMethods) -> str:
    """The model's table: one line per method, then the classical answers, then what no
    method could be graded on, and the failures' reasons."""
    doc = model_document(result)
    rows = [table_row(record) for record in doc["methods"]]
    rows += [table_row({**record, "kind": "classical", "status": "ran", "seconds": {}})
             for record in doc["alternatives"]]
    reasons = [f"  {r['method']}: {r['error']}" for r in doc["methods"] if r["error"]]
    lines = [f"{result.model}: {len(result.reference.values)} checks against "
             f"'{result.reference.method}' ({result.reference.kind}); seed {result.config.seed}, "
             f"{result.config.chains} chains x {result.config.draws} draws",
             text_table([HEADER, *rows])]
    if reasons:
        lines += ["did not run:", *reasons]
    remarks = [f"  {r['method']}: " + "; ".join([*r["notes"], *map(info_text, r["info"].items())])
               for r in doc["methods"] if not r["error"] and (r["notes"] or r["info"])]
    if remarks:
        lines += ["method notes:", *remarks]
    lines += ungraded_lines(doc["methods"])
    return "\n".join(lines)


def table_row(record: dict[str, Any]) -> list[str]:
    diag = record.get("diagnostics") or {}
    seconds = record.get("seconds") or {}
    z = {None: "", True: "ok", False: "FAIL"}[record.get("z_passed")]
    return [record["method"], record["grade"], worst_text(record["worst_bias"]),
            worst_text(record["worst_sd_ratio"], signed=False), z,
            number(diag.get("r_hat_max"), 3), number(diag.get("ess_bulk_min"), 0),
            str(diag["divergences"]) if diag else "", number(seconds.get("compile"), 1),
            number(seconds.get("run") if seconds.get("run") is not None else seconds.get("total"), 1),
            number(record.get("ess_per_second"), 0)]


def worst_text(worst: dict | None, signed: bool = True) -> str:
    """``+0.050 [+0.021, +0.079] theta.mean``: the value, its interval and its check."""
    if not worst:
        return ""
    sign = "+" if signed else ""
    interval = (f" [{worst['low']:{sign}.3f}, {worst['high']:{sign}.3f}]"
                if worst.get("low") is not None else "")
    return f"{worst['value']:{sign}.3f}{interval} {worst['check']}"


def number(value, digits: int) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}" if math.isfinite(value) else str(value)


def info_text(item: tuple[str, Any]) -> str:
    """A method's own diagnostic as words: ``loss_change_last_tenth 5.06e-05``."""
    name, value = item
    return f"{name.replace('_', ' ')} {f'{value:.3g}' if isinstance(value, float) else value}"


def ungraded_lines(records: list[dict]) -> list[str]:
    """The checks the methods that ran could not be graded on, one line per variable and
    reason, naming the methods."""
    groups: dict[tuple[str, str], dict[str, set]] = {}
    for record in records:
        for check, why in record["ungraded"].items():
            group = groups.setdefault((parse_check(check)[0], why), {"checks": set(), "methods": []})
            group["checks"].add(check)
            if record["method"] not in group["methods"]:
                group["methods"].append(record["method"])
    lines = [f"  {var} ({len(g['checks'])} check{'s' * (len(g['checks']) > 1)}): {why}: "
             f"{', '.join(g['methods'])}" for (var, why), g in groups.items()]
    return ["not graded:", *lines] if lines else []


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)


# --- files ---------------------------------------------------------------------------------------

CHECK_COLUMNS = ["model", "method", "check", "reference", "estimate", "mcse", "bias", "sd_ratio",
                 "error", "low", "high", "z", "scale"]
SUMMARY_COLUMNS = ["model", "method", "kind", "grade", "worst_bias", "worst_bias_low",
                   "worst_bias_high", "worst_bias_check", "worst_sd_ratio", "worst_sd_ratio_low",
                   "worst_sd_ratio_high", "worst_sd_ratio_check", "z_passed", "r_hat_max",
                   "ess_bulk_min", "divergences", "compile_s", "run_s", "total_s",
                   "ess_per_second", "error"]


def write_model(result: ModelMethods, out: Path) -> list[Path]:
    """MODEL.json, MODEL.csv (every graded check) and MODEL-marginals.png in ``out``; the
    summary (JSON and CSV, every model written so far) and the heat map updated."""
    doc = model_document(result)
    summary = read_summary(out)
    summary["models"][result.model] = summary_entry(doc)
    summary.update(written_by())
    files = {
        f"{result.model}.json": json.dumps(doc, indent=1, default=float),
        f"{result.model}.csv": csv_text(CHECK_COLUMNS, check_rows(doc)),
        SUMMARY: json.dumps(summary, indent=1, default=float),
        "summary.csv": csv_text(SUMMARY_COLUMNS, summary_rows(summary)),
    }
    images = {f"{result.model}-marginals.png": lambda path: marginals(result, path),
              "heatmap.png": lambda path: heat_map(summary, path)}
    return replace_files(out, files, images)


def replace_files(out: Path, texts: dict[str, str], images: dict) -> list[Path]:
    """Write every file beside its place first, then move each in: an interrupted write leaves
    the previous files, never half of one."""
    out.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".methods-", dir=out))
    written = []
    try:
        for name, text in texts.items():
            (staged / name).write_text(text)
        for name, draw in images.items():
            draw(staged / name)
        for name in [*texts, *images]:
            if (staged / name).exists():
                os.replace(staged / name, out / name)
                written.append(out / name)
    finally:
        for leftover in staged.iterdir():
            leftover.unlink()
        staged.rmdir()
    return written


def read_summary(out: Path) -> dict[str, Any]:
    path = out / SUMMARY
    if path.is_file():
        return json.loads(path.read_text())
    return {"models": {}}


def written_by() -> dict[str, Any]:
    """When, on how loaded a machine, with which versions and thresholds."""
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": list(os.getloadavg()), "cpus": os.cpu_count(),
            "thresholds": THRESHOLDS, "versions": versions()}


#: a worst bias or sd ratio's parts, and the suffix of each in the summary
WORST_KEYS = [("value", ""), ("low", "_low"), ("high", "_high"), ("check", "_check")]


def summary_entry(doc: dict[str, Any]) -> dict[str, Any]:
    """A model's line per method (and classical answer) in the zoo-wide summary."""

    def brief(record):
        diag = record.get("diagnostics") or {}
        seconds = record.get("seconds") or {}
        worst_bias, worst_ratio = record["worst_bias"] or {}, record["worst_sd_ratio"] or {}
        return {"kind": record.get("kind", "classical"), "grade": record["grade"],
                **{f"worst_bias{suffix}": worst_bias.get(key) for key, suffix in WORST_KEYS},
                **{f"worst_sd_ratio{suffix}": worst_ratio.get(key) for key, suffix in WORST_KEYS},
                "z_passed": record["z_passed"], "r_hat_max": diag.get("r_hat_max"),
                "ess_bulk_min": diag.get("ess_bulk_min"), "divergences": diag.get("divergences"),
                "compile_s": seconds.get("compile"), "run_s": seconds.get("run"),
                "total_s": seconds.get("total"), "ess_per_second": record.get("ess_per_second"),
                "error": record.get("error")}

    return {"reference": doc["reference"]["method"], "seed": doc["config"]["seed"],
            "seconds": doc["seconds"],
            "methods": {r["method"]: brief(r) for r in doc["methods"]},
            "alternatives": {r["method"]: brief(r) for r in doc["alternatives"]}}


def summary_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"model": model, "method": method, **values}
            for model, entry in summary["models"].items()
            for group in ("methods", "alternatives")
            for method, values in entry[group].items()]


def check_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"model": doc["model"], "method": record["method"], **row}
            for record in [*doc["methods"], *doc["alternatives"]] for row in record["checks"]]


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# --- the report site's section ----------------------------------------------------------------

def site_section(folder: Path) -> dict[str, Any] | None:
    """The site's models x methods table (grade, worst |bias|, total seconds), its notes and
    images, from ``folder``/summary.json; None when ``zoo methods`` has not run."""
    path = Path(folder) / SUMMARY
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    methods = ordered_methods(summary)
    rows = [["model", *methods]]
    for model, entry in summary["models"].items():
        answers = {**entry["methods"], **entry["alternatives"]}
        rows.append([model, *(cell_text(answers.get(m)) for m in methods)])
    load = ", ".join(f"{x:.1f}" for x in summary.get("load_average", []))
    notes = [f"Each cell: grade, worst |bias| in reference posterior sds and worst sd ratio, "
             f"each with its interval, wall time. "
             f"{THRESHOLDS}.",
             f"From methods/{SUMMARY} (zoo methods), {summary.get('date', '')}, "
             f"load average {load} on {summary.get('cpus')} CPUs."]
    images = [{"caption": caption, "src": data_uri(Path(folder) / name)}
              for caption, name in site_images(summary) if (Path(folder) / name).is_file()]
    return {"title": "Inference methods against the exact answers", "rows": rows,
            "notes": notes, "images": images}


def data_uri(path: Path) -> str:
    """A PNG as a data URI: the site stays one folder that opens offline."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def cell_text(entry: dict | None) -> str:
    if entry is None:
        return ""
    if entry["grade"] in ("failed", "not installed"):
        return entry["grade"]
    bias, ratio, seconds = entry.get("worst_bias"), entry.get("worst_sd_ratio"), entry.get("total_s")
    parts = [entry["grade"],
             f"{abs(bias):.2f} sd{_interval(entry, 'worst_bias', absolute=True)}"
             if bias is not None else "",
             f"sd x{ratio:.2f}{_interval(entry, 'worst_sd_ratio')}" if ratio is not None else "",
             f"{seconds:.0f} s" if seconds else ""]
    return ", ".join(p for p in parts if p)


def _interval(entry: dict, name: str, absolute: bool = False) -> str:
    """`` [0.02-0.09]``: a summary entry's interval of ``name``; of its absolute value (the
    interval of |bias|, 0 when it spans 0) with ``absolute``."""
    low, high = entry.get(f"{name}_low"), entry.get(f"{name}_high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    if absolute:
        low, high = (0.0 if low <= 0 <= high else min(abs(low), abs(high))), max(abs(low), abs(high))
    return f" [{low:.2f}-{high:.2f}]"


def site_images(summary: dict[str, Any]) -> list[tuple[str, str]]:
    images = [("Worst |bias| in posterior sds, per model and method (grey: did not run)",
               "heatmap.png")]
    images += [(f"{model}: each method's marginals against the reference mean +- 1 sd",
                f"{model}-marginals.png") for model in summary["models"]]
    return images
