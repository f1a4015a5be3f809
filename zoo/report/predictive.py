"""What the report computes from the posterior besides the draws: replicated data for the
posterior predictive check, and each observation's log-likelihood for LOO.

Both go into ``posterior.nc`` as well as onto the page, computed once by the same calls, so
the saved file reproduces the page's predictive check and LOO.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from zoo.core.deferred import pm, xr
from zoo.core.sampling import quieted_pymc

if TYPE_CHECKING:
    from zoo.core.results import Result

#: posterior draws pushed through the likelihood for the predictive check (all chains)
PPC_DRAWS = 200
#: most log-likelihood values saved (float32, 16 MB): beyond, draws are thinned evenly (gmm's
#: 10,000 points x 4,000 draws would be 320 MB)
LOG_LIKELIHOOD_VALUES = 4_000_000
#: what PyMC raises for a likelihood it cannot sample forward or evaluate pointwise
UNSUPPORTED = (NotImplementedError, ValueError, TypeError)


def posterior_predictive(result: Result) -> xr.DataTree:
    """Replicated data from PPC_DRAWS posterior draws, beside the observed data.

    Rebuilds the model from the result (compiling its forward function: the main cost) and
    thins the posterior first, so large data sets stay cheap. Seeded from the run's seed, so
    the page and ``posterior.nc`` hold the same replicated data.
    """
    idata = result.fit.idata
    posterior = idata.posterior.to_dataset()
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    step = max(1, total // PPC_DRAWS)
    thinned = xr.DataTree.from_dict({"posterior": posterior.isel(draw=slice(None, None, step))})
    with quieted_pymc(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        predictive = pm.sample_posterior_predictive(
            thinned, model=result.pymc_model(),
            var_names=list(idata["observed_data"].data_vars),
            random_seed=result.config.seed + 1000, progressbar=False)
    return xr.DataTree.from_dict({
        "posterior_predictive": predictive["posterior_predictive"].to_dataset(),
        "observed_data": idata["observed_data"].to_dataset(),
    })


def log_likelihood(result: Result) -> xr.Dataset:
    """Each observation's log-likelihood per draw: the model's own group where it made one
    (rat-tumors' binomial terms, its page's LOO), else PyMC's pointwise log-likelihood, as
    float32, at every draw unless that exceeds LOG_LIKELIHOOD_VALUES (then evenly thinned)."""
    idata = result.fit.idata
    if "log_likelihood" in idata.children:
        return idata["log_likelihood"].to_dataset()
    posterior = idata.posterior.to_dataset()
    observations = sum(v.size for v in idata["observed_data"].data_vars.values())
    draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    step = -(-observations * draws // LOG_LIKELIHOOD_VALUES)
    with quieted_pymc(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        computed = pm.compute_log_likelihood(
            xr.DataTree.from_dict({"posterior": posterior.isel(draw=slice(None, None, step))}),
            model=result.pymc_model(),
            extend_inferencedata=False, progressbar=False)
    values = computed if isinstance(computed, xr.Dataset) else computed["log_likelihood"].to_dataset()
    return values.astype("float32").assign_attrs(thinned_every=step)


def saved_tree(result: Result) -> tuple[xr.DataTree, list[str]]:
    """The run's DataTree with ``posterior_predictive`` and ``log_likelihood`` added, and why a
    group is missing (no observed variable, a likelihood PyMC cannot sample or evaluate)."""
    tree = result.fit.idata.copy()
    if "observed_data" not in tree.children:
        return tree, ["posterior_predictive and log_likelihood: the model has no observed variable"]
    missing = []
    groups = {
        "posterior_predictive": lambda: posterior_predictive(result)["posterior_predictive"].to_dataset(),
        "log_likelihood": lambda: log_likelihood(result),
    }
    for group, compute in groups.items():
        try:
            tree[group] = compute()
        except UNSUPPORTED as err:
            missing.append(f"{group}: not computed ({type(err).__name__}: {err})")
    return tree, missing
