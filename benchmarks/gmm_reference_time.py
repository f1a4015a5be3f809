"""Where does gmm's cold reference spend its time? Its steps on the default data, timed apart
in wall and CPU seconds: the mode search (EM restarts and their reflections, then BFGS from
each optimum with the Hessians), the classical answers shown beside it (EM's standard errors,
k-means, MAP-EM), the pilots that fit each mode's proposal, and the REFERENCE_DRAWS importance
draws. Only the draws and the pilots are random (the reference's seed); the rest is a
deterministic function of the data, shared by every seed.

Usage: python benchmarks/gmm_reference_time.py
"""

import time

import numpy as np
from scipy.special import logsumexp

from zoo.models import gmm
from zoo.numerics import importance


def timed(label: str, rows: list, step):
    wall, cpu = time.perf_counter(), time.process_time()
    found = step()
    rows.append((label, time.perf_counter() - wall, time.process_time() - cpu))
    return found


def main() -> None:
    settings = gmm.MODEL.parse_settings()
    x = gmm.MODEL.default_data(settings)["x"].to_numpy()
    k = settings["components"]
    priors = gmm.resolve_priors(x, settings)
    rows: list = []
    optima = timed("mode search: EM restarts + reflections", rows, lambda: gmm.likelihood_optima(x, k))
    target = gmm.mixture_target(x, k, priors, optima)
    modes = timed("mode search: BFGS + Hessians", rows, lambda: importance.find_modes(target))
    timed("classical answers (EM se, k-means, MAP-EM)", rows,
          lambda: gmm.classical_alternatives(x, k, priors, optima[0]))
    rng = np.random.default_rng(gmm.REFERENCE_SEED)
    pilots = timed("proposal fitting (pilots)", rows,
                   lambda: [importance.pilot(target, mode, rng) for mode in modes])
    evidence = np.array([log_z for _, _, log_z in pilots])
    shares = np.exp(evidence - logsumexp(evidence))
    timed(f"{gmm.REFERENCE_DRAWS:,} importance draws", rows,
          lambda: importance.weighted_draws(target, [(loc, shape) for loc, shape, _ in pilots],
                                            shares, gmm.REFERENCE_DRAWS, rng))
    total = sum(wall for _, wall, _ in rows)
    for label, wall, cpu in rows:
        print(f"{label:45s} {wall:6.2f} s wall ({wall / total:4.0%})  {cpu:6.2f} s CPU")
    print(f"{'total':45s} {total:6.2f} s wall; {len(optima)} EM optima, {len(modes)} mode(s)")


if __name__ == "__main__":
    main()
