"""Baseline for ``single-coin``: the triangular prior and 3 heads in 12 flips, plain PyMC."""

import numpy as np
import pymc as pm

from zoo.benchmarks.baseline_common import Timer, report


def fit(timer: Timer) -> dict:
    flips = np.repeat([1, 0], [3, 9])
    with pm.Model() as model:
        theta = pm.Triangular("theta", lower=0.0, c=0.5, upper=1.0)
        pm.Bernoulli("y", p=theta, observed=flips)
    return report("single-coin", timer.sample(model), timer)
