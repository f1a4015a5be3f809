"""A model of one's own, in a package of one's own: counts with a Gamma prior on their rate.

count_i ~ Poisson(rate), rate ~ Gamma(2, 1), so the posterior is Gamma(2 + sum of counts,
1 + number of counts): the exact answer the zoo checks the sampler against.
"""

import pandas as pd
import pymc as pm
from scipy import stats

from zoo import Column, Reference, Setting, ZooModel
from zoo.core.parsers import positive


class PoissonRate(ZooModel):
    name = "poisson-rate"
    title = "counts ~ Poisson(rate), rate ~ Gamma(shape, 1): exact Gamma posterior"
    columns = [Column("count", "count", "one count per row")]
    settings = {"shape": Setting("2", positive, "the Gamma prior's shape")}

    def default_data(self, settings):
        return pd.DataFrame({"count": [3, 5, 2, 4, 6, 3, 4, 1]})

    def build(self, data, settings):
        with pm.Model() as model:
            rate = pm.Gamma("rate", alpha=settings["shape"], beta=1.0)
            pm.Poisson("count", rate, observed=data["count"].to_numpy())
        return model

    def reference(self, data, settings):
        counts = data["count"].to_numpy()
        exact = stats.gamma(settings["shape"] + counts.sum(), scale=1 / (1 + counts.size))
        return Reference("exact", {"rate.mean": exact.mean(), "rate.sd": exact.std()}, kind="exact")

    def log_posterior(self, data, settings):
        counts = data["count"].to_numpy()
        return lambda values: (stats.gamma.logpdf(values["rate"], settings["shape"])
                               + stats.poisson.logpmf(counts, values["rate"]).sum())


MODEL = PoissonRate()
