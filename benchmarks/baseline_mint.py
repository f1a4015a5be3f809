"""Baseline for ``mint``: the centred model, K = 5, omega ~ Beta(2, 2), coins 3/15 and 4/5."""

import numpy as np
import pymc as pm

from zoo.benchmarks.baseline_common import Timer, report


def fit(timer: Timer) -> dict:
    coin = np.repeat([0, 1], [15, 5])
    flips = np.concatenate([np.repeat([1, 0], [3, 12]), np.repeat([1, 0], [4, 1])])
    kappa = 5.0
    with pm.Model() as model:
        omega = pm.Beta("omega", alpha=2.0, beta=2.0)
        theta = pm.Beta("theta", alpha=omega * (kappa - 2) + 1,
                        beta=(1 - omega) * (kappa - 2) + 1, shape=2)
        pm.Bernoulli("y", p=theta[coin], observed=flips)
    return report("mint", timer.sample(model), timer)
