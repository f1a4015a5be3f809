"""Sampling machinery: per-chain starts for nutpie, default tuning, and parallel runs."""

import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest

from zoo.core.pipeline import run, run_all
from zoo.core.registry import all_models, get_model
from zoo.core.sampling import DEFAULT_TUNE, SamplerConfig, nutpie_starts, sample_nuts


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


def test_parallel_results_come_as_soon_as_those_before_them_are_finished(monkeypatch):
    """verify --all --jobs 2 printed the workers' models only once this process had fitted
    its whole share. A worker's model that is done is now given between this process's fits,
    still in the order asked for."""
    from concurrent.futures import Future
    from contextlib import contextmanager

    import zoo.core.pipeline as pipeline

    events = []

    class Pool:  # the worker finishes the first model at once and takes no other
        def submit(self, run, model, *args):
            future = Future()
            if model == "A":
                future.set_result("A")
            return future

    monkeypatch.setattr(pipeline, "spawned_pool", contextmanager(lambda workers: iter([Pool()])))
    monkeypatch.setattr(pipeline, "run", lambda model, *args: events.append(f"fit {model}") or model)
    for result in pipeline.run_all(["A", "B", "C"], jobs=2):
        events.append(f"gave {result}")
    assert events == ["fit C", "gave A", "fit B", "gave B", "gave C"]


def _saved_stats(idata, path):
    """The sample stats of ``idata`` as ``zoo run`` saves them to NetCDF and reads them back."""
    import xarray as xr

    from zoo.report.text import _netcdf_ready

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

    script = ("from zoo.core.sampling import quieted_pymc\n"
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


# --- the session's cache of compiled nutpie models (issue 26.3) -----------------------------


def _coin(heads: int, tails: int, a: float = 1.0, b: float = 1.0, name: str = "p_cached") -> pm.Model:
    with pm.Model() as model:
        p = pm.Beta(name, a, b)
        pm.Bernoulli("flips", p=p, observed=np.repeat([1, 0], [heads, tails]))
    return model


def _structure(model: pm.Model) -> str | None:
    from zoo.core.compile_cache import data_slots, structure_key

    fgraph, _ = data_slots(model)
    return structure_key(fgraph, model)


def test_the_cache_key_ignores_the_observed_values_and_nothing_else():
    same = _structure(_coin(3, 9))
    assert same is not None and _structure(_coin(9, 3)) == _structure(_coin(20, 1)) == same
    others = [_coin(3, 9, a=2.0), _coin(3, 9, b=1.5), _coin(3, 9, name="q")]
    with pm.Model() as triangular:  # the same names and data, another prior and transform
        p = pm.Triangular("p_cached", lower=0.0, c=0.5, upper=1.0)
        pm.Bernoulli("flips", p=p, observed=np.repeat([1, 0], [3, 9]))
    with pm.Model() as interval:  # the same distribution, other bounds of its interval transform
        p = pm.Uniform("p_cached", 0.0, 0.9)
        pm.Bernoulli("flips", p=p, observed=np.repeat([1, 0], [3, 9]))
    with pm.Model() as wider:
        p = pm.Uniform("p_cached", 0.0, 1.0)
        pm.Bernoulli("flips", p=p, observed=np.repeat([1, 0], [3, 9]))
    keys = [_structure(m) for m in [*others, triangular, interval, wider]]
    assert None not in keys and len({same, *keys}) == len(keys) + 1


def _coins_by_dim(heads: list[int]) -> pm.Model:
    with pm.Model(coords={"coin": [f"coin {i}" for i in range(len(heads))]}) as model:
        p = pm.Beta("p_coin", 1.0, 1.0, dims="coin")
        pm.Binomial("heads", n=20, p=p, observed=heads, dims="coin")
    return model


def test_a_model_with_dims_is_kept_and_a_dim_of_another_length_is_another_structure():
    """A dim's length is a shared variable in PyMC, so a variable with dims had no static
    shape and four of the six bundled models (dims on every one but single-coin and
    rat-tumors) were compiled again on every fit. Dims are frozen before the key is taken:
    the key holds their lengths, and a fit on new data samples its own posterior."""
    from zoo.core.compile_cache import cache_info

    key = _structure(_coins_by_dim([3, 15]))
    assert key is not None and _structure(_coins_by_dim([12, 1])) == key
    assert _structure(_coins_by_dim([3, 15, 7])) not in (None, key)
    config = SamplerConfig(draws=500, tune=300, chains=2, seed=5, nuts_sampler="nutpie")
    sample_nuts(_coins_by_dim([3, 15]), config)
    before = cache_info()
    idata = sample_nuts(_coins_by_dim([12, 1]), config)
    after = cache_info()
    assert (after.compiles, after.hits) == (before.compiles, before.hits + 1)
    exact = [(1 + 12) / 22, (1 + 1) / 22]
    assert idata.posterior["p_coin"].mean(("chain", "draw")).values == pytest.approx(exact, abs=0.03)


def test_every_bundled_model_has_a_structure_key():
    """Each model is served from the cache when fitted again (gmm's means are a CustomDist,
    whose operation is a class made at run time)."""
    for name in all_models():
        model = get_model(name)
        settings = model.parse_settings([])
        assert _structure(model.build(model.load(None, settings), settings)) is not None, name


def test_gmm_on_other_data_of_its_size_is_served_and_samples_its_own_posterior():
    """gmm's 'auto' priors follow the data; as constants they gave every data set a key (and
    a compile) of its own. As data they are swapped in like the points: a second data set of
    the same size is served from the cache, and its chains find its own components."""
    import zoo.models.gmm as gmm
    from zoo.core.compile_cache import cache_info

    settings = gmm.MODEL.parse_settings(["components=2"])
    config = SamplerConfig(draws=200, tune=200, chains=2, seed=5)
    means = []
    for centres, seed in (((0.0, 4.0), 3), ((10.0, 14.0), 4)):
        x = gmm.simulate_mixture(centres, (1.0, 1.0), (0.6, 0.4), 300, seed=seed)
        starts = gmm.mode_starts(x, gmm.comparable_optima(gmm.likelihood_optima(x, 2)))
        before = cache_info()
        idata = sample_nuts(gmm.MODEL.build(pd.DataFrame({"x": x}), settings), config,
                            starts=starts)
        after = cache_info()
        means.append(idata.posterior["mu"].mean(("chain", "draw")).values)
    assert (after.compiles, after.hits) == (before.compiles, before.hits + 1)
    assert means[0] == pytest.approx([0.0, 4.0], abs=0.4)
    assert means[1] == pytest.approx([10.0, 14.0], abs=0.4)


def _custom(logp=None, mean: float = 0.0, start: float = 0.0) -> pm.Model:
    def normal(mu, size):
        return pm.Normal.dist(mu, 1.0, size=size)

    def support_point(rv, size, mu):
        return pt.full_like(mu, start)

    with pm.Model() as model:
        kwargs = {"logp": logp} if logp else {"dist": normal}
        theta = pm.CustomDist("theta", mean, support_point=support_point, **kwargs)
        pm.Normal("y", theta, 1.0, observed=[0.3, -0.2])
    return model


def test_a_custom_dist_is_keyed_on_what_it_computes_and_not_on_its_start():
    """A CustomDist's class is made anew on each build and its log density may be registered
    apart from it: two builds of one CustomDist share a key whatever their start point, and
    another log density or parameter is another key."""
    same = _structure(_custom())
    assert same is not None and _structure(_custom(start=1.0)) == same
    others = [_structure(_custom(mean=0.5)),
              _structure(_custom(logp=lambda value, mu: -0.5 * (value - mu) ** 2)),
              _structure(_custom(logp=lambda value, mu: -0.6 * (value - mu) ** 2))]
    assert None not in others and len({same, *others}) == 4


def test_a_model_with_its_own_initial_values_is_compiled_every_time():
    from zoo.core.compile_cache import data_slots

    assert data_slots(_ordered_model()) is None


def test_a_model_fitted_again_on_new_data_compiles_once_and_another_prior_compiles_anew(capsys):
    """Each fit's posterior mean is its own exact Beta posterior's: the second fit samples the
    second data set (twice as many flips), the third its own prior, never a function compiled
    for another. Each compile, and only a compile, is announced on stderr (issue 23: a long
    compile was silent)."""
    from zoo.core import progress_lines
    from zoo.core.compile_cache import cache_info

    config = SamplerConfig(draws=500, tune=300, chains=2, seed=5, nuts_sampler="nutpie")
    before = cache_info()
    with progress_lines.shown(), progress_lines.about("coin"):
        fits = [((3, 9, 1.0, 1.0), sample_nuts(_coin(3, 9), config)),
                ((20, 4, 1.0, 1.0), sample_nuts(_coin(20, 4), replace(config, seed=6, draws=400))),
                ((3, 9, 30.0, 2.0), sample_nuts(_coin(3, 9, 30.0, 2.0), config))]
    after = cache_info()
    assert (after.compiles - before.compiles, after.hits - before.hits) == (2, 1)
    assert capsys.readouterr().err == "compiling coin ...\n" * 2
    sample_nuts(_coin(5, 5), config)  # outside progress_lines.shown (the API): no line
    assert capsys.readouterr().err == ""
    for (heads, tails, a, b), idata in fits:
        exact = (a + heads) / (a + b + heads + tails)
        assert float(idata.posterior["p_cached"].mean()) == pytest.approx(exact, abs=0.03)
        assert int(idata.observed_data["flips"].sum()) == heads


def test_a_model_verified_again_in_the_session_compiles_nothing_and_says_where_time_went(fast_config):
    from zoo.core.compile_cache import cache_info
    from zoo.report.text import console

    config = replace(fast_config, draws=300, tune=300)
    run(get_model("single-coin"), config=config)
    before = cache_info()
    again = run(get_model("single-coin"), config=replace(config, seed=99, draws=400, target_accept=0.9))
    after = cache_info()
    assert (after.compiles, after.hits) == (before.compiles, before.hits + 1)
    assert again.passed and again.fit.idata.posterior["theta"].shape == (4, 400)
    seconds = again.seconds
    assert {"imports", "building", "compiling", "sampling", "reference", "diagnostics"} <= set(seconds)
    assert seconds["compiling"] + seconds["sampling"] <= seconds["fit"]
    assert sum(seconds[part] for part in ("density_check", "reference", "fit", "diagnostics")
               ) <= seconds["total"]
    assert "compile" in console(again).splitlines()[-1]


def test_the_time_split_adds_up_to_the_wall_time_when_a_fit_imports(fast_config, monkeypatch):
    """A fit's import (nutpie's, timed as the phase "imports" inside the fit) once counted both
    as imports and as fit time, so the console's total exceeded the wall time (49.0 s against
    36.4 s measured). Every import is made to take 0.5 s more here, and the total must stay
    the run's wall time."""
    import time
    from contextlib import contextmanager

    from zoo.core import stopwatch
    from zoo.report.text import console

    timed = stopwatch.phase

    @contextmanager
    def slow_imports(name):
        with timed(name):
            if name == "imports":
                time.sleep(0.5)
            yield

    monkeypatch.setattr(stopwatch, "phase", slow_imports)
    start = time.perf_counter()
    result = run(get_model("single-coin"), config=replace(fast_config, draws=100, tune=100))
    wall = time.perf_counter() - start
    total = float(console(result).splitlines()[-1].split("time ")[1].split(" s")[0])
    assert result.seconds["imports"] >= 0.5
    assert result.seconds["imports"] - 0.05 <= total <= wall + 0.05


# --- nutpie's callbacks kept on disk (issue 26.2) ---------------------------------------------


@pytest.fixture
def numba_cache(tmp_path, monkeypatch):
    """PyTensor's numba cache (where the zoo's callbacks are kept) in a folder of the test's."""
    import pytensor.link.numba.cache as cache

    monkeypatch.setattr(cache, "NUMBA_CACHE_PATH", tmp_path)
    return tmp_path


def _scaled_logp_callback(scale: float):
    """The zoo's log-density callback around PyTensor's -sum(scale * data * x^2) and its
    gradient, data a shared variable read through nutpie's user_data: (callback, user_data,
    the data user_data points to, which must outlive the calls)."""
    import pytensor
    import pytensor.tensor as pt
    from nutpie.compile_pymc import make_user_data

    from zoo.core.nutpie_callbacks import _slots, callback

    x = pt.dvector("x")
    data = pytensor.shared(np.array([1.0, 2.0]), name="data")
    logp = -(scale * data * x**2).sum()
    function = pytensor.function([x], [logp, pt.grad(logp, x)], mode="NUMBA")
    values = {"s0": data.get_value()}
    user_data = make_user_data({data: "s0"}, values)
    sizes = {"n_dim": 2, "n_expanded": 2, "n_words": user_data.dtype.itemsize // 8}
    slots = _slots(user_data.dtype, {data: "s0"})
    return callback("zoo_logp", function, slots, sizes), user_data, values


def _call(callback, user_data, values, x) -> tuple[int, float, list[float]]:
    import ctypes

    x = np.array(x, dtype=float)
    grad, logp = np.zeros(2), np.zeros(())
    pointer = ctypes.POINTER(ctypes.c_double)
    status = callback.ctypes(2, x.ctypes.data_as(pointer), grad.ctypes.data_as(pointer),
                             logp.ctypes.data_as(pointer), ctypes.c_void_p(user_data.ctypes.data))
    return status, float(logp), grad.tolist()


def test_the_callbacks_load_from_disk_and_never_for_another_function(numba_cache):
    expected = (0, -6.0, [-4.0, -8.0])  # x = (1, 1), data = (1, 2), scale 2: logp, gradient
    first, user_data, values = _scaled_logp_callback(2.0)
    assert first._cache_hits == 0 and _call(first, user_data, values, [1.0, 1.0]) == expected
    assert any(numba_cache.glob("*zoo_logp*.nbi"))
    again, user_data, values = _scaled_logp_callback(2.0)
    assert again._cache_hits == 1 and _call(again, user_data, values, [1.0, 1.0]) == expected
    other, user_data, values = _scaled_logp_callback(3.0)  # same source, another function
    assert other._cache_hits == 0
    assert _call(other, user_data, values, [1.0, 1.0]) == (0, -9.0, [-6.0, -12.0])


def test_a_corrupt_or_unwritable_callback_cache_costs_a_compile_not_an_answer(numba_cache, monkeypatch):
    """An entry numba cannot load costs one compile, kept under a second key, so the next
    process loads again (the cache of a clone from before the move to zoo.core held entries
    that named the module's old path, and every warm run compiled again: 4.6 s, not 0.65 s)."""
    import numba.core.caching

    _scaled_logp_callback(2.0)
    kept = list(numba_cache.glob("*zoo_logp*"))
    assert kept
    for path in kept:
        path.write_bytes(b"not a numba cache entry")
    callback, user_data, values = _scaled_logp_callback(2.0)
    assert _call(callback, user_data, values, [1.0, 0.5]) == (0, -3.0, [-4.0, -4.0])
    assert len(list(numba_cache.glob("*zoo_logp*.nbi"))) == 2  # the damaged one, untouched
    again, user_data, values = _scaled_logp_callback(2.0)
    assert again._cache_hits == 1 and _call(again, user_data, values, [1.0, 0.5])[0] == 0

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    for path in numba_cache.glob("*zoo_logp*"):
        path.unlink()
    monkeypatch.setattr(numba.core.caching.IndexDataCacheFile, "save", refuse)
    callback, user_data, values = _scaled_logp_callback(2.0)
    assert _call(callback, user_data, values, [1.0, 0.5]) == (0, -3.0, [-4.0, -4.0])
    assert not any(numba_cache.glob("*zoo_logp*"))


def test_smc_records_no_tuning_and_refuses_the_nuts_options():
    """Issue 23: SMC runs printed "tune 400", nutpie's default, which SMC never uses; its
    settings now record no tuning or target acceptance, say so, and refuse them if given."""
    from zoo.core.errors import UsageError

    smc = SamplerConfig(sampler="smc").resolved("nutpie")
    assert (smc.tune, smc.target_accept, smc.nuts_sampler) == (None, None, None)
    assert "tune" not in smc.describe() and smc.describe().startswith("SMC: 4 chains x 1000 draws")
    nuts = SamplerConfig().resolved("nutpie")
    assert nuts.describe() == "NUTS (nutpie): 4 chains x 1000 draws, tune 400, target_accept 0.8"
    for option in ({"tune": 100}, {"target_accept": 0.9}, {"nuts_sampler": "pymc"}):
        with pytest.raises(UsageError, match="NUTS only"):
            SamplerConfig(sampler="smc", **option)
