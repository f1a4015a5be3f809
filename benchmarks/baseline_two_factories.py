"""Baseline for ``two-factories``: 7 heads in 10 flips, omega 0.25/0.75, kappa 6, prior 1/2 each.

(a) the factory index marginalised, each factory with its own theta (Carlin & Chib), NUTS;
(b) each factory's own model by ``pm.sample_smc`` with its defaults; the log Bayes factor is the
difference of their log evidences.
"""

import numpy as np
import pymc as pm

from zoo.benchmarks.baseline_common import Timer, report, smc_log_evidence


def fit(timer: Timer) -> dict:
    flips = np.repeat([1, 0], [7, 3])
    omega, kappa, prior = np.array([0.25, 0.75]), 6.0, np.array([0.5, 0.5])
    a, b = omega * (kappa - 2) + 1, (1 - omega) * (kappa - 2) + 1
    with pm.Model() as mixture:
        theta = pm.Beta("theta", alpha=a, beta=b, shape=2)
        per_factory = pm.Binomial.dist(n=flips.size, p=theta)
        heads = pm.Mixture("heads", w=prior, comp_dists=per_factory, observed=flips.sum())
        pm.Deterministic("p_factory", pm.math.softmax(np.log(prior) + pm.logp(per_factory, heads)))
    idata = timer.sample(mixture)

    evidence = []
    for factory in (0, 1):
        with pm.Model() as one_factory:
            theta_m = pm.Beta("theta", alpha=a[factory], beta=b[factory])
            pm.Bernoulli("y", p=theta_m, observed=flips)
        evidence.append(smc_log_evidence(timer.sample_smc(one_factory)))
    return report("two-factories", idata, timer, log_bf=evidence[0] - evidence[1])
