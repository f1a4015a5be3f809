"""Baseline for ``missing-data``: the same factored model and prior, written the plain PyMC way,
x2 observed with NaN so that PyMC imputes the lost values itself (a centred latent each, with
scale sqrt(s22.1)); the zoo writes each lost value as the line plus sqrt(s22.1) times an
independent Normal(0, 1)."""

import warnings

import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from zoo.benchmarks.baseline_common import Timer, report
from zoo.models.missing_data import LECTURE_CSV, MODEL, default_prior


def automatic_imputation(data: pd.DataFrame) -> pm.Model:
    x1, x2 = data["x1"].to_numpy(float), data["x2"].to_numpy(float)
    prior = default_prior(data)
    with pm.Model() as model:
        var_x1 = pm.InverseGamma("var_x1", alpha=prior.shape_x1, beta=prior.scale_x1)
        mean_x1 = pm.Normal("mean_x1", prior.mean_x1, pt.sqrt(var_x1 / prior.k))
        var_x2 = pm.InverseGamma("var_x2_given_x1", alpha=prior.shape_x2, beta=prior.scale_x2)
        level = pm.Normal("line_level", prior.line[0], pt.sqrt(var_x2 / prior.line_precision[0]))
        slope = pm.Normal("line_slope", prior.line[1], pt.sqrt(var_x2 / prior.line_precision[1]))
        pm.Normal("x1", mean_x1, pt.sqrt(var_x1), observed=x1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyMC's ImputationWarning: the imputation is meant
            pm.Normal("x2", level + slope * (x1 - prior.centre), pt.sqrt(var_x2), observed=x2)
    return model


def fit(timer: Timer, data: pd.DataFrame | None = None) -> dict:
    """Diagnosed on the parameters the zoo's model also has (its min ESS also covers mu, sigma
    and rho, so the comparison leans the baseline's way): PyMC's imputation adds ``x2``, whose
    observed entries never change, and a constant scalar has no ESS."""
    if data is None:
        data = pd.read_csv(LECTURE_CSV)
    idata = timer.sample(automatic_imputation(data))
    shared = [name for name in MODEL.var_names if name in idata.posterior]
    return report("missing-data", idata, timer, var_names=shared)
