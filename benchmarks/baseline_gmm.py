"""Baseline for ``gmm``: NormalMixture, ordered means from an increasing initval, no EM start.

Same priors as the zoo's defaults: mu ~ Normal(mean x, 2 sd x), sigma ~ HalfNormal(2 sd x),
w ~ Dirichlet(2, 2, 2); the start is the data's quantiles, as in the zoo's model. The data are
the lecture's unless the scaling bench passes its own (column x).
"""

import numpy as np
import pandas as pd
import pymc as pm

from zoo.benchmarks.baseline_common import Timer, report
from zoo.core.model import DATA_DIR


def fit(timer: Timer, data: pd.DataFrame | None = None) -> dict:
    if data is None:
        data = pd.read_csv(DATA_DIR / "gmm_lecture.csv")
    x = data["x"].to_numpy()
    k, spread = 3, np.std(x, ddof=1)
    with pm.Model() as model:
        mu = pm.Normal("mu", x.mean(), 2 * spread, shape=k,
                       transform=pm.distributions.transforms.ordered,
                       initval=np.quantile(x, (np.arange(k) + 0.5) / k))
        sigma = pm.HalfNormal("sigma", 2 * spread, shape=k)
        w = pm.Dirichlet("w", a=np.full(k, 2.0))
        pm.NormalMixture("x", w=w, mu=mu, sigma=sigma, observed=x)
    return report("gmm", timer.sample(model), timer)
