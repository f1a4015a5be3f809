"""The full methods table (issue 15): `zoo methods --all` with every method, the JAX samplers
and pymc-extras included when installed, timed as a whole on this machine, plus two cases
docs/methods.md discusses: a coin with 0 heads in 10 flips (flat prior: the posterior is
Beta(1, 11), its mode on the boundary) for Laplace and MAP.

Writes the console output to benchmarks/methods_all.txt and the wall times, load averages,
CPUs and versions to benchmarks/methods_all.json; the tables and figures go to reports/methods/
(and reports/methods/zero-heads/). The tests run each method only on single-coin with short
settings; this is the full run.

Usage: python benchmarks/methods_all.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZOO = [sys.executable, "-m", "zoo"]


def timed(args: list[str]) -> dict:
    """Run ``zoo ARGS``, keep its output; wall time and load average before and after."""
    load_before, start = os.getloadavg(), time.perf_counter()
    done = subprocess.run([*ZOO, *args], capture_output=True, text=True)
    return {"command": "zoo " + " ".join(args), "exit": done.returncode,
            "wall_seconds": time.perf_counter() - start, "load_before": load_before,
            "load_after": os.getloadavg(), "stdout": done.stdout, "stderr_tail": done.stderr[-2000:]}


def main() -> None:
    from zoo.tools.methods.output import versions

    with tempfile.TemporaryDirectory() as folder:
        zero_heads = Path(folder) / "zero_heads.csv"
        zero_heads.write_text("y\n" + "0\n" * 10)
        runs = [timed(["methods", "--all"]),
                timed(["methods", "single-coin", "--data", str(zero_heads), "--set", "prior=flat",
                       "--out", "reports/methods/zero-heads"])]
    (HERE / "methods_all.txt").write_text("\n\n".join(f"$ {r['command']}\n{r['stdout']}" for r in runs))
    record = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "cpus": os.cpu_count(), "versions": versions(),
              "runs": [{k: v for k, v in r.items() if k != "stdout"} for r in runs]}
    (HERE / "methods_all.json").write_text(json.dumps(record, indent=1))
    for r in runs:
        print(f"{r['command']}: exit {r['exit']}, {r['wall_seconds']:.0f} s, load "
              f"{r['load_before'][0]:.1f} before, {r['load_after'][0]:.1f} after")


if __name__ == "__main__":
    main()
