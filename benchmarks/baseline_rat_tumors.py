"""Baseline for ``rat-tumors``: BDA3's hyperprior p(a, b) ~ (a + b)^(-5/2) by HalfFlat + Potential.
The data are the bundled ones unless the scaling bench passes its own (columns tumors, rats)."""

import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from zoo.benchmarks.baseline_common import Timer, report
from zoo.core.model import DATA_DIR


def fit(timer: Timer, data: pd.DataFrame | None = None) -> dict:
    rats = pd.read_csv(DATA_DIR / "rat_tumors.csv") if data is None else data
    with pm.Model() as model:
        a = pm.HalfFlat("a")
        b = pm.HalfFlat("b")
        pm.Potential("ab_prior", -2.5 * pt.log(a + b))
        theta = pm.Beta("theta", a, b, shape=len(rats))
        pm.Binomial("obs", n=rats["rats"].to_numpy(), p=theta, observed=rats["tumors"].to_numpy())
    return report("rat-tumors", timer.sample(model), timer)
