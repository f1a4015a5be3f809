"""Shared fixtures: small, fixed-seed sampler settings so that each model compiles and
samples once per test session."""

import matplotlib
import pytest

from zoo.sampling import SamplerConfig

matplotlib.use("Agg")

#: 4 chains x 500 draws: enough for bulk ESS >= 400 on these models, and fast
FAST = SamplerConfig(draws=500, tune=500, chains=4, cores=2, seed=1234, progressbar=False)


@pytest.fixture(scope="session")
def fast_config() -> SamplerConfig:
    return FAST
