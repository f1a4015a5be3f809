"""Simulation-based calibration: the zoo's models pass at CI size, a broken likelihood is
flagged, a sampler that diverges fails, SBC runs verify's sampler settings, runs resume, and
results do not depend on --jobs or a Dask cluster."""

import json
import re

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
import xarray as xr

from zoo.cli import main
from zoo.core.calibration import Calibration
from zoo.core.errors import UsageError
from zoo.core.registry import get_model
from zoo.core.sampling import SamplerConfig
from zoo.models.single_coin import SingleCoin
from zoo.tools.sbc import (ESS_MIN, MAX_BAD_SHARE, R_HAT_MAX, SbcConfig, console, continuous_pits,
                           convergence, discrete_pit, fit_health, run_sbc, simulate_and_fit,
                           simulation_rng, uniformity_p_value)

#: CI size: enough simulations for the broken variant to be flagged without doubt
CI = SbcConfig(sims=40, seed=11)


class TailsBlindCalibration(Calibration):
    def pymc_model(self, settings):
        with pm.Model() as model:
            theta = pm.Beta("theta", 1, 1)
            pm.CustomDist("y", theta, logp=lambda flips, p: flips * pt.log(p),
                          observed=np.zeros(12, dtype="int64"))
        return model

    def simulate(self, model, settings, rng):
        theta = rng.beta(1, 1)
        return {"theta": theta}, {"y": rng.binomial(1, theta, 12)}


class TailsBlindCoin(SingleCoin):
    """A deliberately broken single coin: its likelihood ignores the tails, about half the
    flips, so the posterior overestimates theta. (Ignoring a fixed half of the flips would
    *not* be flagged: p(theta | first six flips) is still a calibrated posterior.)"""

    name = "tails-blind-coin"

    def calibration(self):
        return TailsBlindCalibration(self)


class FunnelCalibration(Calibration):
    var_names = ["v"]

    def pymc_model(self, settings):
        with pm.Model() as model:
            v = pm.Normal("v", 0, 3)
            x = pm.Normal("x", 0, pm.math.exp(v / 2), shape=9)
            pm.Normal("y", x, 100, observed=np.zeros(9))
        return model


class CentredFunnel(SingleCoin):
    """Neal's funnel in its centred form, with data too noisy to matter: NUTS diverges in the
    neck (6 of 8 fits at seed 1), while the ranks of v stay roughly uniform."""

    name = "centred-funnel"

    def calibration(self):
        return FunnelCalibration(self)


@pytest.fixture(scope="module")
def coin_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sbc") / "single-coin"
    return out, run_sbc(get_model("single-coin"), CI, out)


def stored_pits(folder, indices):
    return [json.loads((folder / "sims" / f"sim-{i:05d}.json").read_text())["pit"] for i in indices]


def test_single_coin_is_calibrated(coin_run):
    out, summary = coin_run
    assert summary["passed"], summary["parameters"]
    assert summary["simulations"] == summary["computed"] == CI.sims
    assert summary["divergences"] == 0
    assert summary["diverged"]["count"] == summary["not_converged"]["count"] == 0
    assert (out / "sbc-theta.png").stat().st_size > 0
    assert json.loads((out / "summary.json").read_text())["passed"]


def test_two_factories_is_calibrated_including_the_factory(tmp_path):
    summary = run_sbc(get_model("two-factories"), CI, tmp_path / "sbc")
    assert set(summary["parameters"]) == {"theta[0]", "theta[1]", "factory"}
    assert summary["passed"], {k: v["p_value"] for k, v in summary["parameters"].items()}
    table = summary["binary_calibration"]["factory"]
    assert sum(row["count"] for row in table) == 2 * CI.sims  # both categories of every sim
    assert (tmp_path / "sbc" / "sbc-factory-reliability.png").stat().st_size > 0


def test_a_likelihood_that_ignores_the_tails_is_flagged(tmp_path):
    summary = run_sbc(TailsBlindCoin(), CI, tmp_path / "broken")
    assert not summary["passed"]
    assert summary["parameters"]["theta"]["flagged"]


def test_a_sampler_that_diverges_fails_though_its_ranks_look_uniform(tmp_path):
    summary = run_sbc(CentredFunnel(), SbcConfig(sims=8, seed=1), tmp_path / "funnel")
    assert summary["diverged"]["too_many"] and not summary["passed"]
    assert summary["diverged"]["worst"][0]["divergences"] > 0
    verdict = console(summary).splitlines()[-1]
    assert verdict.startswith("FAIL") and "of fits diverged" in verdict


def test_sbc_runs_the_sampler_settings_verify_runs(coin_run, monkeypatch):
    import nutpie

    from zoo.core.pipeline import run

    calls = []
    sample = nutpie.sample
    monkeypatch.setattr(nutpie, "sample", lambda *a, **kw: calls.append(kw) or sample(*a, **kw))
    run(get_model("single-coin"), config=SamplerConfig(draws=50, chains=2))
    simulate_and_fit(get_model("single-coin"), [], CI, 0)
    settings = ("tune", "target_accept", "adaptation", "save_warmup")
    verify, sbc = ({k: call[k] for k in settings} for call in calls)
    assert sbc == verify
    identity = coin_run[1]["identity"]
    assert identity["nuts_sampler"] == "nutpie"
    assert {k: identity[k] for k in settings[:3]} == {k: verify[k] for k in settings[:3]}


def test_a_fit_converges_by_the_stated_rule_and_undefined_r_hat_fails():
    rng = np.random.default_rng(0)

    def fit(draws):
        return xr.DataTree.from_dict({"posterior": xr.Dataset({"a": (("chain", "draw"), draws)})})

    mixed = convergence(fit(rng.normal(size=(2, 500))), ["a"])
    assert mixed["converged"] and mixed["r_hat_max"] < R_HAT_MAX and mixed["ess_bulk_min"] > ESS_MIN
    apart = convergence(fit(rng.normal(size=(2, 500)) + [[0], [1]]), ["a"])
    assert not apart["converged"] and apart["r_hat_max"] > R_HAT_MAX
    stuck = convergence(fit(np.ones((2, 500))), ["a"])
    assert stuck == {"r_hat_max": None, "ess_bulk_min": stuck["ess_bulk_min"], "converged": False}


def test_the_verdict_allows_the_stated_share_of_bad_fits():
    allowed = int(100 * MAX_BAD_SHARE)
    records = [{"index": i, "divergences": int(i < allowed), "r_hat_max": 1.0,
                "ess_bulk_min": 500.0, "converged": i >= allowed} for i in range(100)]
    health = fit_health(records)
    assert health["diverged"]["count"] == health["not_converged"]["count"] == allowed
    assert not health["diverged"]["too_many"] and not health["not_converged"]["too_many"]
    records[allowed].update(divergences=3, converged=False, r_hat_max=None)
    health = fit_health(records)
    assert health["diverged"]["too_many"] and health["not_converged"]["too_many"]
    assert health["diverged"]["worst"][0] == {"index": allowed, "divergences": 3}
    assert health["not_converged"]["worst"][0]["index"] == allowed  # undefined R-hat: worst


def test_sampler_options_are_recorded_and_a_run_with_others_is_refused(coin_run, tmp_path, capsys):
    out = tmp_path / "options"
    status = main(["sbc", "single-coin", "--sims", "2", "--seed", str(CI.seed), "--out", str(out),
                   "--tune", "300", "--target-accept", "0.95", "--adaptation", "diag", "--json",
                   "--quiet"])
    printed = capsys.readouterr()
    config = json.loads(printed.out)["config"]
    assert status == 0 and printed.err == ""  # --quiet: no progress lines
    assert (config["tune"], config["target_accept"], config["adaptation"]) == (300, 0.95, "diag")
    with pytest.raises(UsageError, match="sampler configuration"):
        run_sbc(get_model("single-coin"), SbcConfig(sims=2, seed=CI.seed), out)


def test_an_unknown_adaptation_is_refused(rejects):
    rejects(["sbc", "single-coin", "--adaptation", "flow", "--out", "{out}"], "invalid choice")


def test_a_rerun_resumes_and_keeps_finished_simulations(coin_run):
    out, _ = coin_run
    first = (out / "sims" / "sim-00000.json").stat().st_mtime_ns
    summary = run_sbc(get_model("single-coin"), SbcConfig(sims=CI.sims + 3, seed=CI.seed), out)
    assert summary["computed"] == 3 and summary["simulations"] == CI.sims + 3
    assert (out / "sims" / "sim-00000.json").stat().st_mtime_ns == first


def test_a_folder_of_another_configuration_is_refused(coin_run):
    with pytest.raises(UsageError, match="another model"):
        run_sbc(get_model("single-coin"), SbcConfig(sims=2, seed=CI.seed + 1), coin_run[0])


def test_jobs_give_the_same_numbers(coin_run, tmp_path, capsys):
    out = tmp_path / "jobs"
    status = main(["sbc", "single-coin", "--sims", "2", "--jobs", "2", "--seed", str(CI.seed),
                   "--out", str(out), "--json"])
    printed = capsys.readouterr()
    document = json.loads(printed.out)
    assert status == 0 and document["jobs"] == 2
    # issue 23: progress on stderr as the workers' fits arrive, with no --quiet
    assert re.findall(r"^simulation (\d)/2 \(#\d\) done, \d+ s$", printed.err, re.M) == ["1", "2"]
    assert stored_pits(out, range(2)) == stored_pits(coin_run[0], range(2))


def test_a_dask_cluster_gives_the_same_numbers(coin_run, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:
        run_sbc(get_model("single-coin"), SbcConfig(sims=3, seed=CI.seed), tmp_path / "dask",
                scheduler=cluster.scheduler_address)
    assert stored_pits(tmp_path / "dask", range(3)) == stored_pits(coin_run[0], range(3))


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, capsys):
    status = main(["sbc", "single-coin", "--sims", "1", "--out", str(tmp_path / "x"),
                   "--scheduler", "tcp://127.0.0.1:9"])
    assert status == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_uniformity_test_accepts_uniform_and_flags_skewed_values():
    rng = np.random.default_rng(5)
    assert uniformity_p_value(rng.uniform(size=200)) > 0.01
    assert uniformity_p_value(rng.beta(2, 2, size=200)) < 1e-3  # too central: overdispersed
    assert uniformity_p_value(rng.beta(0.4, 0.4, size=200)) < 1e-3  # too extreme: overconfident


def test_discrete_pit_is_uniform_exactly_when_probabilities_are_calibrated():
    rng = np.random.default_rng(6)
    predicted = rng.uniform(size=300)
    truth = (rng.uniform(size=300) < predicted).astype(int)  # category 1 with prob. predicted
    calibrated = [discrete_pit(np.array([1 - p, p]), m, rng) for p, m in zip(predicted, truth)]
    overconfident = [discrete_pit(np.array([1 - p, p]), m, rng)
                     for p, m in zip(np.round(predicted), truth)]
    assert uniformity_p_value(np.array(calibrated)) > 0.01
    assert uniformity_p_value(np.array(overconfident)) < 1e-3


def test_ranks_count_draws_below_the_truth():
    draws = np.arange(200.0).reshape(2, 100)  # chain 0: 0..99, chain 1: 100..199
    pits = continuous_pits("x", draws, 150.5, thin_to=200, rng=np.random.default_rng(0))
    assert 151 / 201 <= pits["x"] < 152 / 201


def test_a_simulation_seed_depends_on_seed_and_index_only():
    assert simulation_rng(3, 7).uniform() == simulation_rng(3, 7).uniform()
    assert simulation_rng(3, 7).uniform() != simulation_rng(3, 8).uniform()
