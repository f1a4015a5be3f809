"""Baseline for ``gmm``: NormalMixture, ordered means from an increasing initval, no EM start.

Same priors as the zoo's defaults: mu ~ Normal(mean x, 2 sd x), sigma ~ HalfNormal(2 sd x),
w ~ Dirichlet(2, 2, 2); the start is the data's quantiles, as in the zoo's model.
"""

import numpy as np
import pandas as pd
import pymc as pm
from baseline_common import DATA, options, report

sample_options, timer = options()
x = pd.read_csv(DATA / "gmm_lecture.csv")["x"].to_numpy()
k, spread = 3, np.std(x, ddof=1)
with pm.Model() as model:
    mu = pm.Normal("mu", x.mean(), 2 * spread, shape=k, transform=pm.distributions.transforms.ordered,
                   initval=np.quantile(x, (np.arange(k) + 0.5) / k))
    sigma = pm.HalfNormal("sigma", 2 * spread, shape=k)
    w = pm.Dirichlet("w", a=np.full(k, 2.0))
    pm.NormalMixture("x", w=w, mu=mu, sigma=sigma, observed=x)
report("gmm", timer.sample(model, sample_options), timer)
