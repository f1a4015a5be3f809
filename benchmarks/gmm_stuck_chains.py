"""How often a NUTS chain sticks in a wrong mode of the lecture's mixture, and how fast NUTS is.

    .venv/bin/python benchmarks/gmm_stuck_chains.py stuck [--seeds 10] [--draws 300 --tune 500]
    .venv/bin/python benchmarks/gmm_stuck_chains.py generic-start [--start range|index]
    .venv/bin/python benchmarks/gmm_stuck_chains.py speed

``stuck`` fits the default data once per seed with PyMC's default start (``init=jitter``) and
once from dispersed EM starts (``init=em``), and counts the chains ``zoo.core.diagnostics`` calls
stuck (and the max R-hat). ``generic-start`` does the same with PyMC's jitter around a
generic start instead of the model's data quantiles: means evenly spaced from min x to max x
(``range``) or the tutorial-style 0, 1, ..., K-1 (``index``). ``speed`` fits once with PyMC's NUTS and once with nutpie (EM starts)
and prints wall time, sampling time and min bulk ESS per second. Timings depend on the machine's
load and on whether the Numba cache is warm; this is a measurement script, not a test.
"""

from __future__ import annotations

import argparse
import time

import arviz as az
import numpy as np

from zoo.core.diagnostics import scalar_draws, stuck_chains
from zoo.core.sampling import SamplerConfig, sample_nuts
from zoo.models.gmm import MODEL


def one_fit(init: str, config: SamplerConfig) -> dict:
    settings = MODEL.parse_settings([f"init={init}"])
    data = MODEL.load(None, settings)
    reference = MODEL.reference(data, settings)
    begin = time.perf_counter()
    idata = MODEL.fit(MODEL.build(data, settings), data, settings, config, reference).idata
    return summarise(idata, time.perf_counter() - begin)


def generic_start_fit(start_kind: str, config: SamplerConfig) -> dict:
    settings = MODEL.parse_settings([])
    data = MODEL.load(None, settings)
    x, k = data["x"].to_numpy(), settings["components"]
    means = np.linspace(x.min(), x.max(), k) if start_kind == "range" else np.arange(k, dtype=float)
    start = {"mu": means}
    begin = time.perf_counter()
    idata = sample_nuts(MODEL.build(data, settings), config, initvals=start)
    return summarise(idata, time.perf_counter() - begin)


def summarise(idata, wall: float) -> dict:
    """Stuck chains, max R-hat, min bulk ESS, divergences and times of one fit."""
    draws = scalar_draws(idata, MODEL.var_names)
    return {
        "stuck": stuck_chains(draws),
        "r_hat": max(float(az.rhat(d)) for d in draws.values()),
        "wall": wall,
        "sampling": float(idata.posterior.attrs.get("sampling_time", np.nan)),
        "ess": min(float(az.ess(d, method="bulk")) for d in draws.values()),
        "divergences": int(idata.sample_stats["diverging"].sum()),
    }


def stuck(seeds: int, draws: int, tune: int) -> None:
    totals = {"jitter": 0, "em": 0}
    for seed in range(1, seeds + 1):
        for init in totals:
            config = SamplerConfig(draws=draws, tune=tune, seed=seed, nuts_sampler="pymc")
            found = one_fit(init, config)
            totals[init] += len(found["stuck"])
            print(f"seed {seed:2d} init={init:6s} stuck chains {found['stuck']} "
                  f"max R-hat {found['r_hat']:.3f} divergences {found['divergences']} "
                  f"wall {found['wall']:.0f} s", flush=True)
    print(f"stuck chains over {seeds} seeds x 4 chains: " +
          ", ".join(f"init={k}: {v}" for k, v in totals.items()))


def generic_start(start_kind: str, seeds: int, draws: int, tune: int) -> None:
    total = 0
    for seed in range(1, seeds + 1):
        found = generic_start_fit(start_kind, SamplerConfig(draws=draws, tune=tune, seed=seed,
                                                               nuts_sampler="pymc"))
        total += len(found["stuck"])
        print(f"seed {seed:2d} start={start_kind}+jitter stuck chains {found['stuck']} "
              f"max R-hat {found['r_hat']:.3f} divergences {found['divergences']} "
              f"wall {found['wall']:.0f} s", flush=True)
    print(f"stuck chains over {seeds} seeds x 4 chains: {start_kind} start + jitter: {total}")


def speed() -> None:
    for sampler in ("pymc", "nutpie"):
        found = one_fit("em", SamplerConfig(nuts_sampler=sampler))
        print(f"{sampler:6s}: wall {found['wall']:.1f} s, sampling {found['sampling']:.1f} s, "
              f"min bulk ESS {found['ess']:.0f}, {found['ess'] / found['wall']:.1f} ESS/s (wall), "
              f"{found['ess'] / found['sampling']:.1f} ESS/s (sampling), "
              f"divergences {found['divergences']}, stuck {found['stuck']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["stuck", "generic-start", "speed"])
    parser.add_argument("--start", choices=["range", "index"], default="range")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=500)
    args = parser.parse_args()
    if args.what == "stuck":
        stuck(args.seeds, args.draws, args.tune)
    elif args.what == "generic-start":
        generic_start(args.start, args.seeds, args.draws, args.tune)
    else:
        speed()


if __name__ == "__main__":
    main()
