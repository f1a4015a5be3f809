"""gmm: EM numerics without PyMC, then one NUTS fit per data set (a 2,000-point sample of the
lecture's story, posteriordb) checked against EM and against posteriordb's reference
posterior; the report plots; a small SBC run."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from zoo.models.gmm import (
    LECTURE_CSV,
    LECTURE_MEANS,
    LECTURE_SDS,
    LECTURE_WEIGHTS,
    MODEL,
    SBC_N,
    START_SPREAD_SES,
    chains_off_reference,
    dispersed_starts,
    em_fallback,
    mixture_density,
    mixture_standard_errors,
    mixture_values,
    simulate_from_prior,
    simulate_lecture_mixture,
    simulate_mixture,
)
from scipy.special import expit
from zoo.core.compare import compare
from zoo.core.diagnostics import diagnose
from zoo.core.errors import DataError, UsageError
from zoo.core.model import DATA_DIR
from zoo.core.pipeline import run
from zoo.core.results import Reference
from zoo.numerics.em import fit_gmm
from zoo.numerics.exact import beta_mean_sd
from zoo.numerics.importance import Moments, Target, posterior_moments
from zoo.report.text import console, status

POSTERIORDB = DATA_DIR / "low_dim_gauss_mix.csv"
POSTERIORDB_SETTINGS = ["column=y", "components=2", "mu_prior=normal:0,2",
                        "sigma_prior=halfnormal:2", "w_prior=dirichlet:5"]
#: posteriordb's reference: 10,000 draws, roughly independent (thinned Stan chains)
POSTERIORDB_DRAWS = 10_000


# --- numerics, no PyMC ----------------------------------------------------------------------


def test_stored_data_is_the_lectures_simulation():
    stored = pd.read_csv(LECTURE_CSV)["x"].to_numpy()
    assert np.array_equal(stored, simulate_lecture_mixture())


def test_em_recovers_the_generating_mixture():
    """With n = 10,000 the MLE lies within 4 standard errors of the generating values."""
    x = simulate_lecture_mixture()
    fit = fit_gmm(x, 3)
    se = mixture_standard_errors(x, fit)
    truth = mixture_values_of(LECTURE_MEANS, LECTURE_SDS, LECTURE_WEIGHTS)
    for name, value in mixture_values(fit).items():
        assert abs(value - truth[name]) < 4 * se[name], name


def mixture_values_of(means, sds, weights) -> dict[str, float]:
    return {f"{v}[{j}]": float(a[j]) for v, a in (("mu", means), ("sigma", sds), ("w", weights))
            for j in range(len(means))}


def test_standard_errors_match_the_spread_of_the_mle():
    """The observed-information standard errors against the spread of the MLE over 200
    simulated data sets (n = 2,000): agreement to Monte Carlo error (~5% of an sd)."""
    n, repeats = 2_000, 200
    truth = (LECTURE_WEIGHTS, LECTURE_MEANS, np.square(LECTURE_SDS))
    estimates = np.array([list(mixture_values(fit_gmm(simulate_lecture_mixture(n, seed), 3,
                                                      init=truth)).values())
                          for seed in range(repeats)])
    x = simulate_lecture_mixture(n, 10_000)
    predicted = np.array(list(mixture_standard_errors(x, fit_gmm(x, 3)).values()))
    ratio = estimates.std(axis=0, ddof=1) / predicted
    assert np.all(np.abs(ratio - 1) < 4 / np.sqrt(2 * (repeats - 1))), ratio


def test_dispersed_starts_are_valid_and_distinct():
    x = simulate_lecture_mixture()
    fit = fit_gmm(x, 3)
    se = mixture_standard_errors(x, fit)
    starts = dispersed_starts(fit, se, chains=4, seed=3)
    for start in starts:
        assert np.all(np.diff(start["mu"]) > 0) and np.all(start["sigma"] > 0)
        assert start["w"].sum() == pytest.approx(1.0) and np.all(start["w"] > 0)
        off = np.abs(start["mu"] - fit.means) / [se[f"mu[{j}]"] for j in range(3)]
        assert np.all(off <= START_SPREAD_SES + 1e-9)
    assert len({tuple(s["mu"]) for s in starts}) == 4


@pytest.mark.parametrize("key, text", [
    ("components", "1"), ("components", "two"), ("mu_prior", "normal:0"),
    ("mu_prior", "normal:0,-1"), ("sigma_prior", "cauchy:1"), ("sigma_prior", "halfnormal:0"),
    ("w_prior", "dirichlet:0"), ("w_prior", "beta:5,5"), ("init", "map"),
])
def test_bad_settings(key, text):
    with pytest.raises(UsageError, match=key):
        MODEL.parse_settings([f"{key}={text}"])


@pytest.mark.parametrize("text, message", [
    ("y\n1\n2\n", "missing column 'x'"),
    ("x\n1\n2\nthree\n", "line 4, column 'x'"),
    ("x\n1\n2\n1\n2\n1\n2\n", "2 distinct values"),
    # issue 23: numpy's "Degrees of freedom <= 0" on stderr; a constant column called an overflow
    ("x\n1\n", "1 distinct values; 3 components need at least 6"),
    ("x\n5\n5\n5\n5\n5\n5\n", "1 distinct values; 3 components need at least 6"),
    # issue 23: one extreme value among small ones (an IndexError in EM, then a LinAlgError)
    ("x\n1e300\n1\n2\n3\n4\n5\n6\n", "overflow floating point"),
    ("x\n1e200\n" + "".join(f"{v}\n" for v in range(1, 500)), "overflow floating point"),
    ("x\n1e150\n" + "".join(f"{v}\n" for v in range(1, 500)), "distinct values once standardised"),
])
def test_bad_data_is_one_line_and_exit_2(rejects, tmp_path, text, message):
    err = rejects(["verify", "gmm", "--data", "{csv}", "--quiet"], message, text)
    assert str(tmp_path / "data.csv") in err


# --- the lecture's mixture, one NUTS fit --------------------------------------------------------


#: a smaller sample of the lecture's story: the default 10,000 points cost minutes per fit
#: (``zoo verify gmm`` fits those); 2,000 points keep every component's mode sharp
SAMPLE_N, SAMPLE_SEED = 2_000, 7


@pytest.fixture(scope="module")
def lecture_run(fast_config, tmp_path_factory):
    """One NUTS fit of the lecture's story, 4 chains x 400 draws (bulk ESS ~800)."""
    path = tmp_path_factory.mktemp("gmm") / "lecture_sample.csv"
    x = simulate_lecture_mixture(SAMPLE_N, SAMPLE_SEED)
    pd.DataFrame({"x": x}).to_csv(path, index=False, float_format="%.17g")
    return run(MODEL, path, config=replace(fast_config, draws=400, tune=400))


def test_posterior_matches_the_importance_reference(lecture_run):
    """Means and sds of every parameter against PSIS, with a trustworthy Pareto k."""
    checks, reference = lecture_run.checks, lecture_run.reference
    assert reference.method == "psis" and reference.alternatives["psis"]["pareto_k"] < 0.7
    assert reference.kind == "importance sampling" and not reference.weaker
    assert checks["passed"].all(), checks
    assert set(checks["name"]) == {f"{v}[{j}].{stat}" for v in ("mu", "sigma", "w")
                                   for j in range(3) for stat in ("mean", "sd")}
    diagnostics = lecture_run.diagnostics
    assert diagnostics.converged, diagnostics.problems
    assert diagnostics.divergences == 0 and diagnostics.stuck_chains == []


def test_methods_side_by_side(lecture_run):
    alternatives = lecture_run.alternatives()
    assert {"em", "kmeans", "map_em", "nuts"} <= set(alternatives)
    assert {"mu[2]", "sigma[2]", "w[2]", "loglik", "iterations"} <= set(alternatives["em"])
    # EM maximises the likelihood: NUTS's posterior means and k-means score no higher
    assert alternatives["nuts"]["loglik"] <= alternatives["em"]["loglik"] + 1e-6
    assert alternatives["kmeans"]["loglik"] < alternatives["em"]["loglik"]


def test_console_table_of_alternatives_lines_up_every_method(lecture_run):
    """Issue 23: the console's alternatives table was blank but for PSIS: the other methods
    call mu[0] what PSIS calls mu[0].mean, so their values were rows beyond the first 12."""
    from zoo.report.text import CONSOLE_ROWS, alternatives_table

    header, *rows = alternatives_table(lecture_run)[: CONSOLE_ROWS + 1]
    first = dict(zip(header, rows[0]))
    assert first["quantity"] == "mu[0].mean"
    for method in ("em", "kmeans", "map_em", "nuts", "em_minus_posterior_in_sds"):
        assert first[method] != "", method
    assert len({row[0] for row in alternatives_table(lecture_run)}) == len(alternatives_table(lecture_run))


def test_standard_errors_are_the_posterior_sds(lecture_run):
    """The reference errors are fractions of the MLE's standard errors; these must be the
    posterior sds (Bernstein-von Mises), here to the sds' Monte Carlo error (~5%)."""
    nuts, se = lecture_run.alternatives()["nuts"], lecture_run.alternatives()["em_se"]
    for name, value in se.items():
        assert nuts[f"{name}.sd"] == pytest.approx(value, rel=0.15), name


def test_a_wrong_reference_fails(lecture_run):
    """Two components instead of three fails; so does a mean moved by one posterior sd (which
    the old check against EM let through) or an sd made 15% larger."""
    data, reference = lecture_run.data, lecture_run.reference
    two = MODEL.reference(data, MODEL.parse_settings(["components=2"]))
    assert not compare(lecture_run.fit, two)["passed"].all()
    values = reference.values
    for name, moved in (("mu[1].mean", values["mu[1].mean"] + values["mu[1].sd"]),
                        ("sigma[0].sd", 1.15 * values["sigma[0].sd"])):
        shifted = Reference("psis", {**values, name: moved}, reference.errors)
        assert not compare(lecture_run.fit, shifted).set_index("name").loc[name, "passed"]


def test_a_stuck_chain_is_flagged(lecture_run):
    """Chain 3 moved into a 'wrong mode' (mu[1] ten posterior sds off) is reported by the
    diagnostics and by the per-chain comparison with EM, not averaged in."""
    fitted = lecture_run.fit.idata
    posterior = fitted.posterior.to_dataset().copy(deep=True)
    mu = posterior["mu"].values.copy()
    mu[3, :, 1] += 10 * mu[..., 1].std()
    posterior["mu"] = (posterior["mu"].dims, mu)
    idata = xr.DataTree.from_dict({"posterior": posterior,
                                   "sample_stats": fitted.sample_stats.to_dataset()})
    diagnostics = diagnose(idata, MODEL.var_names)
    assert diagnostics.stuck_chains == [3] and not diagnostics.converged
    em = mixture_values_of(*(np.array([lecture_run.reference.values[f"{v}[{j}].mean"]
                                       for j in range(3)]) for v in ("mu", "sigma", "w")))
    assert list(chains_off_reference(idata, em)) == [3]
    assert chains_off_reference(lecture_run.fit.idata, em) == {}


def test_report_figures_are_written(lecture_run, tmp_path):
    figures = MODEL.figures(lecture_run, tmp_path)
    assert [path.name for _, path in figures] == ["mixture_density.png", "em_loglik.png"]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for _, path in figures)
    assert "monotone" in figures[1][0]


def test_mixture_density_integrates_to_one():
    grid = np.linspace(-5, 15, 20_001)
    density = mixture_density(grid, np.array(LECTURE_WEIGHTS), np.array(LECTURE_MEANS),
                              np.array(LECTURE_SDS))
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-9)


# --- posteriordb's two-component mixture ----------------------------------------------------------


@pytest.fixture(scope="module")
def posteriordb_run(fast_config):
    return run(MODEL, POSTERIORDB, POSTERIORDB_SETTINGS, fast_config)


def posteriordb_reference() -> Reference:
    """posteriordb's moments under the zoo's names (0-based; theta is w[0], the lower mean's
    weight); each reference's own error is that of a mean or sd of 10,000 independent draws."""
    moments = json.loads((DATA_DIR / "low_dim_gauss_mix.reference.json").read_text())["moments"]
    names = {"mu[1]": "mu[0]", "mu[2]": "mu[1]", "sigma[1]": "sigma[0]", "sigma[2]": "sigma[1]",
             "theta": "w[0]"}
    values, errors = {}, {}
    for theirs, ours in names.items():
        mean, sd = moments[theirs]["mean"], moments[theirs]["sd"]
        values[f"{ours}.mean"], errors[f"{ours}.mean"] = mean, sd / np.sqrt(POSTERIORDB_DRAWS)
        values[f"{ours}.sd"], errors[f"{ours}.sd"] = sd, sd / np.sqrt(2 * POSTERIORDB_DRAWS)
    return Reference("posteriordb", values, errors)


def test_posteriordb_reference_posterior_is_reproduced(posteriordb_run):
    checks = compare(posteriordb_run.fit, posteriordb_reference())
    assert len(checks) == 10 and checks["passed"].all(), checks
    assert posteriordb_run.diagnostics.converged, posteriordb_run.diagnostics.problems


def test_user_data_passes_against_importance_sampling(posteriordb_run):
    assert posteriordb_run.reference.method == "psis"
    assert posteriordb_run.passed, posteriordb_run.checks


def test_importance_reference_agrees_with_posteriordb(posteriordb_run):
    """The reference alone, no MCMC: PSIS's means and sds against posteriordb's Stan draws,
    each z over both references' errors."""
    ours, theirs = posteriordb_run.reference, posteriordb_reference()
    for name, value in theirs.values.items():
        scale = np.hypot(ours.errors[name], theirs.errors[name])
        assert abs(ours.values[name] - value) < 4 * scale, name


def test_posteriordb_check_can_fail(posteriordb_run):
    """Each reference mean moved by 0.1 (2-6 posterior sds) fails."""
    reference = posteriordb_reference()
    wrong = Reference("wrong", {k: v + 0.1 if k.endswith(".mean") else v
                                for k, v in reference.values.items()}, reference.errors)
    checks = compare(posteriordb_run.fit, wrong).set_index("name")
    means = [name for name in checks.index if name.endswith(".mean")]
    assert len(means) == 5 and not checks.loc[means, "passed"].any()


# --- the importance-sampling reference on small, overlapping data -----------------------------


@pytest.fixture(scope="module")
def overlapping_run(fast_config):
    """300 points from 0.6 Normal(0, 1) + 0.4 Normal(3, 1): a skewed posterior."""
    x = simulate_mixture((0.0, 3.0), (1.0, 1.0), (0.6, 0.4), 300, seed=3)
    data = pd.DataFrame({"x": x})
    settings = MODEL.parse_settings(["components=2"])
    reference = MODEL.reference(data, settings)
    return reference, MODEL.fit(MODEL.build(data, settings), data, settings, fast_config, reference)


def test_the_chains_start_at_the_optima_the_reference_hands_over(overlapping_run, monkeypatch):
    """Issue 27: the EM optima travel from the reference to the chains' starts in
    ``Reference.workings``, not through a cache of the model's own: the fit searches no
    optimum again, and starts moved in the workings move the chains' starts."""
    import zoo.models.gmm as gmm

    reference, _ = overlapping_run
    x = simulate_mixture((0.0, 3.0), (1.0, 1.0), (0.6, 0.4), 300, seed=3)
    optima = reference.workings["optima"]
    assert optima and optima[0].loglik == max(fit.loglik for fit in optima)
    monkeypatch.setattr(gmm, "likelihood_optima", lambda *args: pytest.fail("searched again"))
    moved = replace(reference, workings={"optima": tuple(replace(fit, means=fit.means + 100)
                                                         for fit in optima)})
    starts = MODEL.nuts_options(pd.DataFrame({"x": x}), MODEL.parse_settings(["components=2"]),
                                moved)["starts"]
    assert all(np.all(starts(seed)["mu"] > 90) for seed in range(4))


def test_small_data_posterior_is_not_em(overlapping_run):
    """EM's optimum sits visibly off the posterior mean (over 0.3 posterior sds for mu, sigma
    and w), and NUTS agrees with the importance reference, not with EM."""
    reference, fit = overlapping_run
    assert reference.method == "psis" and reference.alternatives["psis"]["pareto_k"] < 0.7
    distances = reference.alternatives["em_minus_posterior_in_sds"]
    assert max(abs(d) for d in distances.values()) > 0.3, distances
    assert compare(fit, reference)["passed"].all()
    em = Reference("em", {f"{name}.mean": value
                          for name, value in reference.alternatives["em"].items() if "[" in name})
    assert not compare(fit, em)["passed"].all()


def test_importance_sampling_recovers_a_closed_form():
    """Beta(4, 9) in logit space: mean and sd within 4 of their own standard errors."""
    a, b = 4.0, 9.0
    target = Target(lambda u: a * np.log(expit(u[:, 0])) + b * np.log(expit(-u[:, 0])),
                    lambda u: {"theta": expit(u[:, 0])}, np.zeros(1))
    moments = posterior_moments(target, 4000, seed=0)
    assert moments.trusted
    exact = dict(zip(("theta.mean", "theta.sd"), beta_mean_sd(a, b)))
    for name, value in exact.items():
        assert abs(moments.values[name] - value) < 4 * moments.errors[name], name


def test_heavy_tails_are_not_trusted():
    """A Cauchy target has heavier tails than any t(5) proposal: Pareto k above 0.7."""
    target = Target(lambda u: -np.log1p(u[:, 0] ** 2), lambda u: {"x": u[:, 0]}, np.full(1, 0.3))
    assert not posterior_moments(target, 4000, seed=0).trusted


def test_untrusted_reference_falls_back_on_em_and_says_so(monkeypatch):
    x = simulate_lecture_mixture(SAMPLE_N, SAMPLE_SEED)
    data, settings = pd.DataFrame({"x": x}), MODEL.parse_settings([])
    untrusted = lambda *args: Moments({}, {}, pareto_k=0.9, ess=10.0, draws=100)  # noqa: E731
    monkeypatch.setattr("zoo.models.gmm.posterior_moments", untrusted)
    reference = MODEL.reference(data, settings)
    assert reference.method == "em" and any("WEAKER CHECK" in n for n in reference.notes)
    assert set(reference.values) == {f"{v}[{j}].mean" for v in ("mu", "sigma", "w")
                                     for j in range(3)}
    stalled = replace(fit_gmm(x, 3), converged=False)
    with pytest.raises(DataError, match="EM did not converge"):
        em_fallback(x, stalled, "Pareto k 0.9")


def test_a_run_on_the_em_fallback_says_so_as_data(monkeypatch, lecture_run):
    """Importance sampling not trusted: the run's JSON says its reference is the EM fallback and
    the check the weaker one, and its status line says PASS (weaker check: EM). The reference
    is computed (cache off); the fit is lecture_run's, on the same data."""
    from zoo.report.text import console

    untrusted = lambda *args: Moments({}, {}, pareto_k=0.9, ess=10.0, draws=100)  # noqa: E731
    monkeypatch.setattr("zoo.models.gmm.posterior_moments", untrusted)
    monkeypatch.setenv("ZOO_CACHE_DIR", "off")
    monkeypatch.setattr(MODEL, "fit", lambda *args: lecture_run.fit)
    result = run(MODEL, lecture_run.data_source, config=lecture_run.config)
    document = json.loads(result.to_json())
    assert document["reference_kind"] == "EM fallback" and document["weaker_check"] is True
    assert document["passed"] and "PASS (weaker check: EM): " in console(result)
    assert json.loads(lecture_run.to_json())["reference_kind"] == "importance sampling"


# --- simulation-based calibration ---------------------------------------------------------------


def test_sbc_simulation_keeps_each_components_parameters_together():
    """Means ordered, x simulated from the drawn components: x's mean and variance
    (n = 200,000) match the mixture's within 4 standard errors."""
    priors = MODEL.calibration().priors(MODEL.parse_settings([]))
    truth, x = simulate_from_prior(priors, 3, 200_000, np.random.default_rng(3))
    mu, sigma, w = truth["mu"], truth["sigma"], truth["w"]
    assert np.all(np.diff(mu) > 0) and w.sum() == pytest.approx(1.0)
    mean = w @ mu
    variance = w @ (sigma**2 + mu**2) - mean**2
    assert abs(x.mean() - mean) < 4 * np.sqrt(variance / x.size)
    fourth = np.mean((x - x.mean()) ** 4)
    assert abs(x.var() - variance) < 4 * np.sqrt((fourth - x.var() ** 2) / x.size)


def test_sbc_prior_keeps_components_apart():
    """SBC's prior (4,000 draws): the means centre on 2, 6, 10 with sd 0.5 (the ordering
    truncates ~1e-8 of the mass), adjacent components are rarely close (the gap between
    means is under 1.5 times the sum of their sds in ~0.5% of draws, under once, where two
    equal normals merge into one bump, in ~1 in 40,000), and no sd is near 0 (under 0.1 in
    ~1e-5 of draws: NUTS diverges on components thousands of times narrower than the gaps)."""
    priors = MODEL.calibration().priors(MODEL.parse_settings([]))
    rng = np.random.default_rng(0)
    truths = [simulate_from_prior(priors, 3, 1, rng)[0] for _ in range(4000)]
    mu, sigma = (np.array([t[v] for t in truths]) for v in ("mu", "sigma"))
    assert np.all(np.abs(mu.mean(axis=0) - [2, 6, 10]) < 4 * 0.5 / np.sqrt(len(mu)))
    separation = np.diff(mu, axis=1) / (sigma[:, 1:] + sigma[:, :-1])
    closest = separation.min(axis=1)
    assert np.mean(closest < 1.5) < 0.02 and np.mean(closest < 1) < 0.002
    assert sigma.min() > 0.1


def test_sbc_model_and_simulation_have_sbc_size():
    settings = MODEL.parse_settings([])
    model = MODEL.calibration().pymc_model(settings)
    truth, observed = MODEL.calibration().simulate(model, settings, np.random.default_rng(1))
    assert observed["x"].shape == model["x"].shape.eval() == (SBC_N,)
    assert {v.name for v in model.free_RVs} == set(truth) == {"mu", "sigma", "w"}


# --- units and several modes (issues 23 and 24) ---------------------------------------------


def two_component_sample() -> np.ndarray:
    return simulate_mixture((0.0, 3.0), (1.0, 1.0), (0.6, 0.4), 300, seed=3)


@pytest.mark.parametrize("factor", [1e10, 1e-8])
def test_the_reference_does_not_depend_on_the_units(factor):
    """Issue 23: the same data times 1e10 (a LinAlgError) or 1e-8 (the weaker check) give the
    same importance reference, scaled: the priors' defaults are on the data's own scale."""
    x, settings = two_component_sample(), MODEL.parse_settings(["components=2"])
    reference = MODEL.reference(pd.DataFrame({"x": x}), settings)
    scaled = MODEL.reference(pd.DataFrame({"x": x * factor}), settings)
    assert scaled.method == reference.method == "psis" and scaled.refusal is None
    for name, value in reference.values.items():
        unit = 1.0 if name.startswith("w") else factor
        assert scaled.values[name] == pytest.approx(value * unit, rel=1e-6), name
        assert scaled.errors[name] == pytest.approx(reference.errors[name] * unit, rel=1e-4), name


def test_data_in_other_units_get_the_same_verdict(fast_config, tmp_path):
    """Issue 23: a fit of the same data times 1e10 passes, with the same checks as in the
    data's units (NUTS's adaptation is not bit-for-bit the same in other units, so its z's
    differ by Monte Carlo noise)."""
    x = two_component_sample()
    results = []
    for factor in (1.0, 1e10):
        path = tmp_path / f"x{factor:g}.csv"
        pd.DataFrame({"x": x * factor}).to_csv(path, index=False, float_format="%.17g")
        results.append(run(MODEL, path, ["components=2"], fast_config))
    assert [r.passed for r in results] == [True, True]
    assert list(results[0].checks["name"]) == list(results[1].checks["name"])


def symmetric_sample() -> np.ndarray:
    """Data exactly symmetric about 5: three bumps fitted by two components, so that the
    posterior has two modes of equal mass (w[0] ~ 0.3 and ~ 0.7), mirror images."""
    y = simulate_mixture((-3.0, 0.0, 3.0), (0.6, 0.6, 0.6), (1 / 3, 1 / 3, 1 / 3), 300, 1)
    return np.concatenate([y, -y]) + 5.0


@pytest.fixture(scope="module")
def symmetric_run(fast_config, tmp_path_factory):
    path = tmp_path_factory.mktemp("gmm") / "symmetric.csv"
    pd.DataFrame({"x": symmetric_sample()}).to_csv(path, index=False, float_format="%.17g")
    return run(MODEL, path, ["components=2"], fast_config)


def test_symmetric_modes_are_covered_by_the_reference(symmetric_run):
    """Issue 24: the reference covers both modes, so its moments are the symmetric truth:
    w[0].mean = 0.5 and mu[0].mean + mu[1].mean = 10 within their errors."""
    reference = symmetric_run.reference
    assert reference.method == "psis" and reference.refusal is None
    assert reference.alternatives["psis"]["modes"] == 2
    assert abs(reference.values["w[0].mean"] - 0.5) < 4 * reference.errors["w[0].mean"]
    mu_sum = reference.values["mu[0].mean"] + reference.values["mu[1].mean"]
    mu_error = np.hypot(reference.errors["mu[0].mean"], reference.errors["mu[1].mean"])
    assert abs(mu_sum - 10.0) < 4 * mu_error
    assert any("covers 2 modes" in note for note in reference.notes)


def test_symmetric_modes_never_pass(symmetric_run):
    """Issue 24: the chains start in both modes and cannot cross: the run fails (it passed
    12/12 with w[0] ~ 0.69 when everything started at EM's optimum)."""
    assert not symmetric_run.passed
    chain_means = symmetric_run.idata.posterior["w"].sel(component=0).mean("draw").values
    assert chain_means.min() < 0.45 < 0.55 < chain_means.max()  # both modes sampled


@pytest.fixture(scope="module")
def close_run(fast_config, tmp_path_factory):
    """Two components closer than their sds: one bump, and a likelihood with a flat ridge
    along which EM stops at ten different optima within 0.1 of each other (at 300 points the
    same story has one posterior mode, which importance sampling covers, k 0.36)."""
    path = tmp_path_factory.mktemp("gmm") / "close.csv"
    x = simulate_mixture((0.0, 1.0), (1.0, 1.0), (0.5, 0.5), 500, 2)
    pd.DataFrame({"x": x}).to_csv(path, index=False, float_format="%.17g")
    return run(MODEL, path, ["components=2"], fast_config)


def test_components_closer_than_their_sds_never_pass(close_run):
    """Issue 24: refused with a verdict of its own, in the JSON and on the console."""
    assert close_run.reference.refusal.startswith("cannot verify")
    assert not close_run.passed
    record = json.loads(close_run.to_json())
    assert record["refusal"] == close_run.reference.refusal and record["passed"] is False
    assert status(close_run) == "CANNOT VERIFY"
    assert close_run.reference.refusal in console(close_run)


def test_a_refusal_is_shown_on_the_report_page(close_run, tmp_path):
    """Issue 24: the page says CANNOT VERIFY and why, where a failing run shows its problems."""
    from zoo.report.site import build_site

    build_site([close_run], tmp_path / "site")
    page = (tmp_path / "site" / "gmm" / "index.html").read_text()
    assert "CANNOT VERIFY" in page and "cannot verify: EM reaches" in page
