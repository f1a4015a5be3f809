"""How many draws a model's checks need: each check's smallest detectable bias (``zoo power``'s
formula, median over seeds) and the sampling time, for several draws per chain.

    python -m zoo.benchmarks.draws_for_power MODEL [--draws 500,600,1000] [--seeds 3]

What ``ZooModel.draws`` is chosen from: the fewest draws whose worst check still detects
``zoo.tools.power.DETECTABLE_MAX_SD`` posterior sds (docs/power.md).
"""

import argparse
import statistics

from zoo.core.sampling import SamplerConfig
from zoo.tools.power import CORRECT, DETECTABLE_MAX_SD, PowerConfig, Unit, detectable, posterior_sds, run_unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--draws", default="500,600,1000")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"target: every check detects {DETECTABLE_MAX_SD} posterior sd")
    for draws in map(int, args.draws.split(",")):
        config = PowerConfig(sampler=SamplerConfig(draws=draws))
        runs = [run_unit(Unit("verify", args.model, CORRECT, seed), config) for seed in range(args.seeds)]
        sds = posterior_sds({c["name"]: c["reference"] for c in runs[0]["checks"]}, runs)
        rows = detectable(runs, sds)
        worst = sorted(((row["bias"], name) for name, row in rows.items() if row["in_sd"]), reverse=True)[:3]
        seconds = statistics.median(r["seconds"]["sampling"] for r in runs)
        print(f"{args.model} draws {draws}: worst detectable "
              + ", ".join(f"{name} {bias:.3f}" for bias, name in worst)
              + f"; sampling {seconds:.1f} s (median of {args.seeds} seeds); all passed: "
              + str(all(r["passed"] for r in runs)), flush=True)


if __name__ == "__main__":
    main()
