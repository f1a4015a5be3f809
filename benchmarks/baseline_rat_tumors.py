"""Baseline for ``rat-tumors``: BDA3's hyperprior p(a, b) ~ (a + b)^(-5/2) by HalfFlat + Potential."""

import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from baseline_common import DATA, options, report

sample_options, timer = options()
rats = pd.read_csv(DATA / "rat_tumors.csv")
with pm.Model() as model:
    a = pm.HalfFlat("a")
    b = pm.HalfFlat("b")
    pm.Potential("ab_prior", -2.5 * pt.log(a + b))
    theta = pm.Beta("theta", a, b, shape=len(rats))
    pm.Binomial("obs", n=rats["rats"].to_numpy(), p=theta, observed=rats["tumors"].to_numpy())
report("rat-tumors", timer.sample(model, sample_options), timer)
