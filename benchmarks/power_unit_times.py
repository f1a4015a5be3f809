"""How long does ``zoo power --all`` take? Estimated from a few units of each kind per model,
not by the full run: each model in a fresh process (as a power worker starts) with a fresh
reference cache, its units run through ``zoo.tools.power.run_unit`` in a worker's order (the correct
model's first two false-alarm runs, then per fault timed: its answer, two verify seeds and three
SBC simulations), each timed in wall seconds and in CPU seconds (this process's threads and the
compilers it spawned). The first unit of a model variant pays its compiles; the later ones are
warm.

Faults timed: the model's shared-helper fault where it has one (mint beta-shapes-swapped, gmm
sigma-scale-variance, missing-data prior-psi-sds: the record says which check caught each
verify seed), else its first; every fault of the models given with ``--every-fault``.

The estimate: the warm CPU seconds of each unit times the count the settings ask for, plus
each worker's first of a model variant (both workers compile every variant), summed over every
fault (a fault not timed costs the mean of its model's timed ones) and divided by the cores.
Wall seconds are printed beside: on a loaded machine they are the larger.

Measured 2026-12-03 (``OUT.json --every-fault gmm``, 2 CPUs shared with other work, load 6-9:
wall 1.8 x CPU): at the defaults 76 CPU minutes, ~38 on 2 cores (gmm 44, two-factories 10,
missing-data 8, mint 7, rat-tumors 5, single-coin 1); at ``--seeds 5 --false-alarm-seeds 10
--sims 40`` 44 CPU minutes, ~22 on 2 cores. Not timed: the long runs of the faults without an
exact answer outside gmm (4 x a verify's draws, a few CPU minutes in all). Each shared-helper
fault's two verify seeds were caught by the log-density check.
``benchmarks/results/power-unit-times-2026-12-03-loaded.{json,txt}``.

Usage: python benchmarks/power_unit_times.py OUT.json [MODEL ...] [--every-fault MODEL ...]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (false-alarm seeds, verify seeds per fault, SBC simulations per fault)
SETTINGS = {"defaults": (20, 10, 100), "reduced": (10, 5, 40)}
WORKERS = 2


def cpu_seconds() -> float:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_units(units: list) -> list[dict]:
    from zoo.tools import power

    rows = []
    for unit in units:
        wall, cpu = time.perf_counter(), cpu_seconds()
        record = power.run_unit(unit, power.PowerConfig())
        rows.append({"kind": unit.kind, "fault": unit.fault, "index": unit.index,
                     "wall": time.perf_counter() - wall, "cpu": cpu_seconds() - cpu,
                     "error": record.get("error"), "how": record.get("how"),
                     "caught_by": power.seed_outcome(record)["caught_by"] if unit.kind == "verify" else None,
                     "reference_seed": record.get("reference_seed")})
    return rows


def time_model(model: str, every_fault: bool) -> dict:
    """In this process: the correct model's units, then each timed fault's."""
    from zoo.core.faults import SharedHelperFault
    from zoo.core.registry import get_model
    from zoo.tools import power

    classes = get_model(model).faults()
    shared = [c.fault for c in classes if issubclass(c, SharedHelperFault)]
    faults = [c.fault for c in classes] if every_fault else (shared or [classes[0].fault])[:1]
    units = [power.Unit("verify", model, power.CORRECT, i) for i in range(2)]
    for fault in faults:
        units += [power.Unit("effect", model, fault, 0), *(power.Unit("verify", model, fault, i) for i in range(2)),
                  *(power.Unit("sbc", model, fault, i) for i in range(3))]
    return {"model": model, "faults": len(classes), "units": time_units(units)}


def estimate(timed: dict, seeds: tuple[int, int, int]) -> float:
    """CPU seconds of one model's units at (false-alarm seeds, verify seeds, simulations)."""
    alarms, verify, sims = seeds
    units = timed["units"]
    first, warm = units[0]["cpu"], units[1]["cpu"]
    total = alarms * warm + WORKERS * max(first - warm, 0)
    per_fault = []
    for fault in dict.fromkeys(u["fault"] for u in units[2:]):
        effect, first_fit, warm_fit, first_sbc, *warm_sbc = (u["cpu"] for u in units if u["fault"] == fault)
        warm_sbc = statistics.mean(warm_sbc)
        per_fault.append(effect + verify * warm_fit + WORKERS * max(first_fit - warm_fit, 0)
                         + sims * warm_sbc + WORKERS * max(first_sbc - warm_sbc, 0))
    return total + timed["faults"] * statistics.mean(per_fault)


def main(out: Path, models: list[str], every_fault: list[str]) -> None:
    from zoo.core.registry import all_models

    timed = []
    for model in models or list(all_models()):  # --every-fault alone: every model
        with tempfile.TemporaryDirectory() as cache:
            child = subprocess.run([sys.executable, __file__, "-", model, str(model in every_fault)],
                                   capture_output=True, text=True,
                                   env={**os.environ, "ZOO_CACHE_DIR": cache}, check=True)
        timed.append(json.loads(child.stdout.strip().splitlines()[-1]))
        for unit in timed[-1]["units"]:
            print(f"{model:14s} {unit['kind']:7s} {unit['fault']:26s} {unit['index']}  "
                  f"wall {unit['wall']:6.1f} s  cpu {unit['cpu']:6.1f} s  "
                  f"{unit['caught_by'] if unit['caught_by'] is not None else unit['how'] or ''}"
                  f"{'  ERROR ' + unit['error'] if unit['error'] else ''}", flush=True)
    totals = {name: {t["model"]: estimate(t, seeds) / 60 for t in timed} for name, seeds in SETTINGS.items()}
    for name, per_model in totals.items():
        print(f"{name} {SETTINGS[name]}: {sum(per_model.values()):.0f} CPU minutes, "
              f"~{sum(per_model.values()) / WORKERS:.0f} minutes on {WORKERS} cores; "
              + ", ".join(f"{m} {v:.0f}" for m, v in per_model.items()))
    out.write_text(json.dumps({"load_average": os.getloadavg(), "models": timed,
                               "cpu_minutes": totals}, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "-":  # the child: one model, in a fresh process
        print(json.dumps(time_model(sys.argv[2], sys.argv[3] == "True")))
    else:
        args = sys.argv[2:]
        split = args.index("--every-fault") if "--every-fault" in args else len(args)
        main(Path(sys.argv[1]), args[:split], args[split + 1:])
