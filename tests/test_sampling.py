"""Sampling machinery: per-chain starts for nutpie, default tuning, and parallel runs."""

import os
from dataclasses import replace

import numpy as np
import pymc as pm
import pytest

from zoo.pipeline import run, run_all
from zoo.registry import get_model
from zoo.sampling import DEFAULT_TUNE, SamplerConfig, nutpie_starts, sample_nuts


def _ordered_model() -> pm.Model:
    with pm.Model() as model:
        pm.Normal("mu", 0.0, 5.0, shape=2, transform=pm.distributions.transforms.ordered,
                  initval=np.array([-1.0, 1.0]))
        pm.HalfNormal("sigma", 2.0)
    return model


def _start(seed: int) -> dict[str, np.ndarray]:
    """A different valid start for each of seven seeds (nutpie's chain seeds are large)."""
    shift = seed % 7
    return {"mu": np.array([shift, shift + 0.5]), "sigma": np.array(1.0 + shift)}


def test_each_nutpie_chain_starts_exactly_at_its_own_start():
    import nutpie

    model = _ordered_model()
    compiled = nutpie.compile_pymc_model(model, jitter_rvs=set())
    flat = nutpie_starts(model, compiled, _start)
    names, slices, _ = compiled.shape_info
    where = dict(zip(names, slices))
    for seed in (3, 5):
        vector = flat(seed)
        # the transformed coordinates: first mean, then the log-gap; log sigma
        assert vector[where["mu_ordered__"]] == pytest.approx([seed, np.log(0.5)])
        assert vector[where["sigma_log__"]] == pytest.approx(np.log(1.0 + seed))


def test_nutpie_with_starts_samples_the_model():
    config = SamplerConfig(draws=200, tune=200, chains=2, seed=4)
    idata = sample_nuts(_ordered_model(), config, nuts_sampler="nutpie", starts=_start)
    assert idata.posterior.attrs["inference_library"] == "nutpie"
    assert idata.posterior["mu"].shape == (2, 200, 2)
    assert float(idata.posterior.attrs["sampling_time"]) > 0
    assert "observed_data" in idata.children or "constant_data" in idata.children


def test_tuning_and_target_acceptance_default_to_each_samplers_own():
    assert SamplerConfig().resolved("pymc").tune == DEFAULT_TUNE["pymc"] == 1000
    assert SamplerConfig().resolved("nutpie").tune == DEFAULT_TUNE["nutpie"] == 400
    assert SamplerConfig().resolved("nutpie").target_accept == 0.8
    assert SamplerConfig().resolved("pymc").target_accept == 0.9
    assert SamplerConfig(tune=50, target_accept=0.95).resolved("pymc").tune == 50
    asked = SamplerConfig(nuts_sampler="pymc").resolved("nutpie")
    assert (asked.nuts_sampler, asked.tune, asked.target_accept) == ("pymc", 1000, 0.9)


@pytest.mark.parametrize("value", ["1.5", "0", "high"])
def test_target_acceptance_must_be_a_probability(rejects, value):
    rejects(["run", "single-coin", "--target-accept", value, "--out", "{out}"], value)


def test_a_result_records_the_settings_it_ran_with(fast_config):
    result = run(get_model("single-coin"), config=replace(fast_config, tune=None))
    assert result.config.tune == DEFAULT_TUNE["nutpie"]
    assert result.config_dict()["nuts_sampler"] == "nutpie"


def test_parallel_runs_give_the_same_numbers_in_the_same_order(fast_config):
    """With two jobs a worker takes the first two models and this process the third."""
    names = ["single-coin", "mint", "missing-data"]
    models = [get_model(name) for name in names]
    config = replace(fast_config, draws=300, tune=300)
    alone = [r.checks for r in run_all(models, config=config, jobs=1)]
    together = list(run_all(models, config=config, jobs=2))
    assert [r.model.name for r in together] == names
    for one, two in zip(alone, together):
        assert one[["name", "estimate", "mcse"]].equals(two.checks[["name", "estimate", "mcse"]])


def _saved_stats(idata, path):
    """The sample stats of ``idata`` as ``zoo run`` saves them to NetCDF and reads them back."""
    import xarray as xr

    from zoo.report import _netcdf_ready

    _netcdf_ready(idata).to_netcdf(path)
    return xr.open_datatree(path)["sample_stats"].load()


def test_text_stats_are_saved_as_text_and_ragged_stats_as_floats(tmp_path):
    """Issue 18: ``zoo run`` died writing posterior.nc whenever nutpie reported a divergence,
    its ``divergence_message`` being text (NaN where there is none) in an object array."""
    import xarray as xr

    message = np.array([[np.nan, "Divergence due to large energy error: 1049.3"], [None, np.nan]],
                       dtype=object)
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[-3.0, -2.5], [-3.1]]  # SMC: one log evidence per stage, stages per chain
    idata = xr.DataTree.from_dict({
        "posterior": xr.Dataset({"theta": (("chain", "draw"), np.zeros((2, 2)))}),
        "sample_stats": xr.Dataset({"divergence_message": (("chain", "draw"), message),
                                    "log_marginal_likelihood": (("chain",), ragged),
                                    "diverging": (("chain", "draw"), [[False, True], [False, False]])}),
    })
    stats = _saved_stats(idata, tmp_path / "posterior.nc")
    assert stats["divergence_message"].values.tolist() == [
        ["", "Divergence due to large energy error: 1049.3"], ["", ""]]
    np.testing.assert_array_equal(stats["log_marginal_likelihood"].values,
                                  [[-3.0, -2.5], [-3.1, np.nan]])
    assert stats["diverging"].values.sum() == 1


def test_a_nutpie_fit_that_diverged_can_be_saved(tmp_path):
    """A real nutpie fit with divergences (a centred funnel at a low target acceptance)."""
    with pm.Model() as funnel:
        v = pm.Normal("v", 0, 3)
        x = pm.Normal("x", 0, pm.math.exp(v / 2), shape=9)
        pm.Normal("y", x, 100, observed=np.zeros(9))
    config = SamplerConfig(draws=200, tune=100, chains=2, seed=2, target_accept=0.6)
    idata = sample_nuts(funnel, config, nuts_sampler="nutpie", adaptation="diag")
    assert idata["sample_stats"]["diverging"].values.sum() > 0
    messages = _saved_stats(idata, tmp_path / "posterior.nc")["divergence_message"].values
    assert any(m.startswith("Divergence") for m in messages.ravel())


def test_compiling_leaves_nothing_in_the_temp_folder(tmp_path):
    """PyTensor's generated numba source goes beside its compile cache, not into a new file in
    the system temp folder for every compiled function (issue 18.11), while the zoo compiles;
    afterwards the setting is the user's again (issue 27.3)."""
    import subprocess
    import sys

    script = ("from zoo.sampling import quieted_pymc\n"
              "import pytensor, pytensor.tensor as pt\n"
              "x = pt.vector('x')\n"
              "with quieted_pymc():\n"
              "    pytensor.function([x], pt.exp(x).sum() * 2, mode='NUMBA')([1.0, 2.0])\n"
              "    print(pytensor.config.generated_src_dir)\n"
              "print(repr(pytensor.config.generated_src_dir))")
    temp = tmp_path / "temp"
    temp.mkdir()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(temp)}, timeout=300)
    assert done.returncode == 0, done.stderr
    inside, after = done.stdout.splitlines()
    assert inside.endswith("generated_src") and after == "''"
    assert list(temp.iterdir()) == []
