"""``zoo bench --scaling``: how the cost grows with the data (long; not part of CI).

gmm at n = 1e3 .. 1e6 points and rat-tumors at 71, 710 and 7,100 experiments, each data set
the model's own (``ZooModel.scaling_data``: gmm's lecture story, rat-tumors simulated from its
posterior); each size fitted by the zoo and by the baseline, one process each, interleaved,
with the user's (warm) compile cache, the baseline stopped at a stated cap and shown as capped. Then ``zoo sbc`` wall time on 1 and 2 local jobs and on a
2-worker local Dask cluster. The growth exponent is the least-squares slope of log time
against log size over the sizes measured.
"""

from __future__ import annotations

import base64
import io
import inspect
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zoo.core.deferred import pd
from zoo.core.errors import UsageError
from zoo.core.progress_lines import say
from zoo.core.registry import get_model
from zoo.core.results import versions
from zoo.core.sampling import DEFAULT_SEED, SamplerConfig
from zoo.report.text import markdown_table
from zoo.tools.bench.runs import Capped, Row, load_average, measured, one_process_command

GMM_SIZES = (1_000, 10_000, 100_000, 1_000_000)
RAT_EXPERIMENTS = (71, 710, 7_100)
SBC_MODEL, SBC_SIMS = "gmm", 60
#: the issue's targets for gmm (seconds of a whole zoo fit) and for SBC's efficiency
GMM_TARGET_SECONDS = {100_000: 30.0, 1_000_000: 300.0}
SBC_MIN_SPEEDUP = 1.8
KEEP = ("compile", "sampling", "reference", "ess_bulk_min", "ess_per_second", "ess_per_gradient",
        "r_hat_max", "divergences", "stuck_chains", "passed")


def scaling_data(model: str, size: int) -> pd.DataFrame:
    """``size`` units (points, experiments) of the model's data, from its ``scaling_data``."""
    data = get_model(model).scaling_data(size)
    if data is None:
        raise UsageError(f"{model} gives no data to scale (ZooModel.scaling_data)")
    return data


def story(model: str) -> str:
    """How ``model`` makes its scaling data: its hook's first line."""
    return inspect.getdoc(type(get_model(model)).scaling_data).split("\n")[0]


def one_size(model: str, data: pd.DataFrame, folder: Path, cap: float, seed: int) -> dict[str, Row]:
    """The zoo's fit, then the baseline's (capped), of one data set."""
    csv = folder / f"{model}-{len(data)}.csv"
    data.to_csv(csv, index=False, float_format="%.17g")
    extra = ["--data", str(csv)]
    out = {}
    for side, timeout in (("zoo", None), ("baseline", cap)):
        command = one_process_command(side, [model], seed, str(SamplerConfig.cores), extra)
        try:
            run = measured(command, None, timeout)
        except Capped:
            out[side] = {"capped": cap, "load": load_average()}
            say(f"{model} size {len(data)} {side}: capped at {cap:.0f} s")
            continue
        fit = run["doc"]["models"][model]
        out[side] = {"wall": run["wall"], "load": run["load"],
                     **{k: fit[k] for k in KEEP if k in fit}}
        say(f"{model} size {len(data)} {side}: {run['wall']:.1f} s, sampling "
            f"{fit['sampling']:.1f} s, ESS/s {fit['ess_per_second']:.0f} (load {run['load']:.1f})")
    return out


def growth_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) on log(size); None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def exponents(rows: list[Row], size_key: str) -> dict[str, float | None]:
    """Growth of the zoo's and the baseline's sampling time and wall time (uncapped sizes)."""
    out = {}
    for side in ("zoo", "baseline"):
        for metric in ("sampling", "wall"):
            found = [(r[size_key], r[side][metric]) for r in rows if metric in r[side]]
            out[f"{side}_{metric}"] = growth_exponent(*map(list, zip(*found))) if found else None
    return out


def sbc_runs(sims: int) -> list[Row]:
    """``zoo sbc`` wall time on 1 and 2 local jobs and on a 2-worker local Dask cluster."""
    from dask.distributed import LocalCluster

    rows = []
    base = [sys.executable, "-m", "zoo", "sbc", SBC_MODEL, "--sims", str(sims), "--json"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        for label, options in (("1 local job", ["--jobs", "1"]), ("2 local jobs", ["--jobs", "2"]),
                               ("Dask, 2 local workers", ["--scheduler", cluster.scheduler_address])):
            with tempfile.TemporaryDirectory(prefix="zoo-bench-sbc-") as out:
                load = load_average()
                begin = time.perf_counter()
                done = subprocess.run([*base, *options, "--out", str(Path(out) / "sbc")],
                                      capture_output=True, text=True, check=False)
                wall = time.perf_counter() - begin
            rows.append({"run": label, "wall": wall, "load": load, "sims": sims,
                         "sims_per_second": sims / wall, "exit": done.returncode})
            say(f"sbc {SBC_MODEL} {label}: {wall:.1f} s for {sims} sims (load {load:.1f})")
    one = rows[0]["sims_per_second"]
    for row in rows:
        row["speedup"] = row["sims_per_second"] / one
        row["efficiency"] = row["speedup"] / (1 if row is rows[0] else 2)
    return rows


def run_scaling(sizes: list[int] | None, cap: float, repeat: int) -> dict:
    """Every scaling measurement as one JSON-ready document (``repeat`` is not used: one run
    per size, the sizes themselves are the repetition the fit of the exponent averages)."""
    started, load_before = time.strftime("%Y-%m-%d %H:%M:%S %Z"), load_average()
    with tempfile.TemporaryDirectory(prefix="zoo-bench-scaling-") as folder:
        gmm = [{"n": n, **one_size("gmm", scaling_data("gmm", n), Path(folder), cap, DEFAULT_SEED)}
               for n in (sizes or GMM_SIZES)]
        rats = [{"experiments": j, **one_size("rat-tumors", scaling_data("rat-tumors", j), Path(folder), cap, DEFAULT_SEED)}
                for j in RAT_EXPERIMENTS]
    sbc = sbc_runs(SBC_SIMS)
    doc = {"settings": {"when": started, "load_average_before": load_before,
                        "load_average_after": load_average(), "baseline_cap_seconds": cap,
                        "caches": "the user's (warm)", "cores": SamplerConfig.cores,
                        "gmm_data": story("gmm"), "rat_tumors_data": story("rat-tumors"),
                        "sbc": f"zoo sbc {SBC_MODEL} --sims {SBC_SIMS}", "versions": versions()},
           "gmm": gmm, "gmm_exponents": exponents(gmm, "n"),
           "rat_tumors": rats, "rat_tumors_exponents": exponents(rats, "experiments"),
           "sbc": sbc}
    doc["targets"] = scaling_targets(doc)
    return doc


def scaling_targets(doc: dict) -> dict:
    out = {}
    for row in doc["gmm"]:
        bound = GMM_TARGET_SECONDS.get(row["n"])
        if bound is not None and "wall" in row["zoo"]:
            zoo = row["zoo"]
            out[f"gmm_n_{row['n']:.0e}_within_{bound:.0f}_s"] = {
                "value": zoo["wall"], "met": zoo["wall"] <= bound and zoo["r_hat_max"] <= 1.01
                and zoo["stuck_chains"] == 0, "load": zoo["load"]}
    exponent = doc["gmm_exponents"]["zoo_sampling"]
    if exponent is not None:
        out["gmm_sampling_growth_at_most_linear"] = {"value": exponent, "met": exponent <= 1.0}
    dask_or_jobs = [r for r in doc["sbc"] if r["run"] != "1 local job"]
    out["sbc_2_workers_at_least_1.8x"] = {r["run"]: {"value": r["speedup"],
                                                     "met": r["speedup"] >= SBC_MIN_SPEEDUP}
                                          for r in dask_or_jobs}
    return out


# --- output ---------------------------------------------------------------------------------


def _side(row: Row) -> list[str]:
    if "capped" in row:
        return [f"capped at {row['capped']:.0f} s", "-", "-", "-", "-", "-", f"{row['load']:.1f}"]
    return [f"{row['wall']:.1f}", f"{row['compile']:.1f}", f"{row['sampling']:.1f}",
            f"{row.get('reference', 0.0):.1f}", f"{row['ess_per_second']:.0f}",
            f"{row['ess_per_gradient']:.3f}", f"{row['load']:.1f}"]


def size_rows(rows: list[Row], size_key: str) -> list[list[str]]:
    header = [size_key, "side", "wall s", "compile s", "sampling s", "reference s", "ESS/s",
              "ESS per gradient", "load"]
    return [header] + [[f"{r[size_key]:,}", side, *_side(r[side])]
                       for r in rows for side in ("zoo", "baseline")]


def sbc_rows(rows: list[Row]) -> list[list[str]]:
    return [["zoo sbc", "wall s", "sims/s", "speedup", "efficiency", "load"]] + [
        [r["run"], f"{r['wall']:.1f}", f"{r['sims_per_second']:.2f}", f"{r['speedup']:.2f}",
         f"{r['efficiency']:.2f}", f"{r['load']:.1f}"] for r in rows]


def exponent_notes(doc: dict) -> list[str]:
    notes = []
    for name, key in (("gmm", "gmm_exponents"), ("rat-tumors", "rat_tumors_exponents")):
        found = {k: v for k, v in doc[key].items() if v is not None and not math.isnan(v)}
        notes.append(f"{name} growth exponents (log-log slope): " + ", ".join(
            f"{k.replace('_', ' ')} {v:.2f}" for k, v in found.items()))
    return notes


def scaling_table(doc: dict) -> str:
    parts = [markdown_table(size_rows(doc["gmm"], "n")),
             markdown_table(size_rows(doc["rat_tumors"], "experiments")),
             markdown_table(sbc_rows(doc["sbc"]))]
    notes = exponent_notes(doc) + [f"target {k}: {v}" for k, v in doc["targets"].items()]
    return "\n\n".join(parts + ["\n".join(notes)])


# --- the report site ------------------------------------------------------------------------


def loglog_figure(rows: list[Row], size_key: str, title: str) -> str:
    """Sampling time and ESS/s against size, log-log, zoo and baseline (capped baselines as
    upward triangles at the cap), as a PNG data URI: the site stays one self-contained folder."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    figure, (time_axis, ess_axis) = plt.subplots(1, 2, figsize=(9, 3.4))
    for side, colour in (("zoo", "C0"), ("baseline", "C1")):
        done = [r for r in rows if "sampling" in r[side]]
        capped = [r for r in rows if "capped" in r[side]]
        sizes = [r[size_key] for r in done]
        time_axis.loglog(sizes, [r[side]["sampling"] for r in done], "o-", color=colour, label=side)
        ess_axis.loglog(sizes, [r[side]["ess_per_second"] for r in done], "o-", color=colour, label=side)
        if capped:
            time_axis.loglog([r[size_key] for r in capped], [r[side]["capped"] for r in capped], "^",
                             color=colour, label=f"{side} capped (wall)")
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # not mathtext: slow to lay out
    for axis in (time_axis.xaxis, time_axis.yaxis, ess_axis.xaxis, ess_axis.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())
    time_axis.set(xlabel=size_key, ylabel="sampling s", title=f"{title}: sampling time")
    ess_axis.set(xlabel=size_key, ylabel="bulk ESS / s", title=f"{title}: ESS per second")
    time_axis.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def site_section(doc: dict, name: str) -> dict:
    """The scaling bench on the report site's index: gmm's table, notes, log-log plots."""
    return {"title": "How cost grows (zoo bench --scaling)", "rows": size_rows(doc["gmm"], "n"),
            "notes": [f"From {name}.", *exponent_notes(doc),
                      *(" | ".join(row) for row in size_rows(doc["rat_tumors"], "experiments")[1:]),
                      *(" | ".join(row) for row in sbc_rows(doc["sbc"])[1:]),
                      f"measured {doc['settings']['when']}, warm caches, baseline cap "
                      f"{doc['settings']['baseline_cap_seconds']:.0f} s"],
            "images": [{"caption": "gmm", "src": loglog_figure(doc["gmm"], "n", "gmm")},
                       {"caption": "rat-tumors", "src": loglog_figure(doc["rat_tumors"], "experiments",
                                                                      "rat-tumors")}]}
