"""rat-tumors: the grid against Gauss-Legendre quadrature, empirical Bayes and type-2 ML
against closed forms and a second optimiser, NUTS against the grid, the report's plots and
simulation-based calibration under a proper prior."""

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import optimize
from scipy.special import digamma, expit, gammaln, logsumexp
from scipy.stats import beta as beta_dist
from scipy.stats import betabinom

from zoo.cli import main
from zoo.core.compare import compare
from zoo.core.pipeline import run
from zoo.core.results import Reference
from zoo.core.sampling import SamplerConfig
from zoo.models.rat_tumors import (
    MODEL, alpha_beta, eb_moments, grid_box, grid_moments, grid_posterior,
    log_marginal_likelihood, shrinkage_plot, type2_optimum,
)

FAST = ["--draws", "500", "--tune", "500", "--seed", "7", "--quiet"]


@pytest.fixture(scope="module")
def counts():
    data = MODEL.default_data({})
    return data["tumors"].to_numpy(), data["rats"].to_numpy()


def test_marginal_likelihood_matches_scipy_and_the_pooled_limit(counts):
    tumors, rats = counts
    alpha, beta = np.array([0.5, 2.4, 40.0]), np.array([3.0, 14.3, 200.0])
    mine = log_marginal_likelihood(alpha, beta, tumors, rats)
    log_choose = gammaln(rats + 1) - gammaln(tumors + 1) - gammaln(rats - tumors + 1)
    scipy = np.array([np.sum(betabinom.logpmf(tumors, rats, a, b) - log_choose)
                      for a, b in zip(alpha, beta)])
    assert mine == pytest.approx(scipy, rel=1e-12)
    # as alpha + beta -> infinity every theta_j is the prior mean: complete pooling
    mean = 0.15
    pooled = np.sum(tumors * np.log(mean) + (rats - tumors) * np.log1p(-mean))
    assert log_marginal_likelihood(1e12 * mean, 1e12 * (1 - mean), tumors, rats) == pytest.approx(
        pooled, abs=1e-6)


def _gauss_legendre_moments(tumors, rats, box, nodes=160):
    """Tensor Gauss-Legendre over the grid's box with scipy's beta-binomial: another rule and
    another likelihood code than the grid's."""
    (u_lo, u_hi), (v_lo, v_hi) = box
    x, w = np.polynomial.legendre.leggauss(nodes)
    u = (u_lo + u_hi) / 2 + (u_hi - u_lo) / 2 * x
    v = (v_lo + v_hi) / 2 + (v_hi - v_lo) / 2 * x
    uu, vv = np.meshgrid(u, v, indexing="ij")
    a, b = np.exp(vv) * expit(uu), np.exp(vv) * expit(-uu)
    log_lik = betabinom.logpmf(tumors, rats, a[..., None], b[..., None]).sum(-1)
    log_post = log_lik - 2.5 * np.log(a + b) + np.log(a) + np.log(b) + np.log(np.outer(w, w))
    weight = np.exp(log_post - logsumexp(log_post))
    out = {"alpha.mean": np.sum(weight * a), "beta.mean": np.sum(weight * b)}
    out["alpha.sd"] = np.sqrt(np.sum(weight * a**2) - out["alpha.mean"] ** 2)
    out["beta.sd"] = np.sqrt(np.sum(weight * b**2) - out["beta.mean"] ** 2)
    for j in (0, 40, 70):
        m = (a + tumors[j]) / (a + b + rats[j])
        out[f"theta[{j}].mean"] = np.sum(weight * m)
    return out


def test_grid_agrees_with_independent_quadrature(counts):
    tumors, rats = counts
    box = grid_box(tumors, rats)
    grid = grid_posterior(tumors, rats, 500, box)
    assert grid.edge_mass < 1e-6
    values = grid_moments(grid, tumors, rats)
    independent = _gauss_legendre_moments(tumors, rats, box)
    for name, value in independent.items():
        assert values[name] == pytest.approx(value, rel=2e-5), name
    # a coarse grid is visibly off: the comparison can fail
    coarse = grid_moments(grid_posterior(tumors, rats, 6, box), tumors, rats)
    assert abs(coarse["alpha.sd"] - independent["alpha.sd"]) > 1e-3


def test_eb_moments_match_mean_and_variance(counts):
    tumors, rats = counts
    rates = tumors[:-1] / rats[:-1]
    alpha, beta = eb_moments(tumors[:-1], rats[:-1])
    mean, variance = beta_dist.stats(alpha, beta, moments="mv")
    assert mean == pytest.approx(rates.mean(), rel=1e-12)
    assert variance == pytest.approx(rates.var(), rel=1e-12)
    assert eb_moments(np.array([2, 2]), np.array([10, 10])) is None  # no spread: no Beta


def _score(alpha, beta, tumors, rats):
    """Closed-form gradient of the beta-binomial log-likelihood in (alpha, beta)."""
    common = digamma(alpha + beta) - digamma(alpha + beta + rats)
    d_alpha = np.sum(digamma(alpha + tumors) - digamma(alpha) + common)
    d_beta = np.sum(digamma(beta + rats - tumors) - digamma(beta) + common)
    return np.array([d_alpha, d_beta])


@pytest.mark.parametrize("with_hyperprior", [False, True])
def test_type2_optimum_is_the_root_of_the_closed_form_score(counts, with_hyperprior):
    tumors, rats = counts[0][:-1], counts[1][:-1]

    def score(log_ab):  # zero at the optimum; solved by a root finder, not an optimiser
        a, b = np.exp(log_ab)
        return _score(a, b, tumors, rats) - (2.5 / (a + b) if with_hyperprior else 0.0)

    root = optimize.root(score, np.log([1.0, 5.0]), tol=1e-13)
    assert root.success
    assert type2_optimum(tumors, rats, with_hyperprior) == pytest.approx(np.exp(root.x), rel=1e-6)


def test_type2_without_overdispersion_is_reported_not_invented():
    """Rates spread less than binomial noise: the likelihood peaks at alpha + beta = infinity."""
    rats = np.full(30, 50)
    tumors = np.array([10] * 28 + [9, 11])
    assert type2_optimum(tumors, rats, with_hyperprior=False) is None


def test_alpha_beta_round_trip():
    a, b = alpha_beta(np.log(2.4 / 14.3), np.log(16.7))
    assert (a, b) == pytest.approx((2.4, 14.3))


@pytest.fixture(scope="module")
def pooled_run():
    """The full-length run (4 x 1000): 500 draws leave alpha's R-hat near the 1.01 bound."""
    return run(MODEL, set_pairs=["compare_pooling=yes"], config=SamplerConfig(seed=1234))


def test_posterior_matches_grid(pooled_run):
    checks = pooled_run.checks
    assert checks["passed"].all(), checks[~checks["passed"]]
    assert pooled_run.diagnostics.converged, pooled_run.diagnostics.problems
    assert pooled_run.diagnostics.divergences == 0
    names = set(checks["name"])
    assert {"alpha.mean", "alpha.sd", "beta.mean", "beta.sd", "theta[70].sd"} <= names
    assert len(names) == 8 + 2 * 71 + 1


def test_posterior_fails_against_the_plug_in_answer(pooled_run):
    """Type-2 ML plugged in ignores the uncertainty in (alpha, beta): the checks must see it."""
    tumors, rats = pooled_run.data["tumors"].to_numpy(), pooled_run.data["rats"].to_numpy()
    alpha, beta = pooled_run.reference.alternatives["type2_ml"]["alpha"], pooled_run.reference.alternatives[
        "type2_ml"]["beta"]
    mean, sd = beta_dist.stats(alpha + tumors, beta + rats - tumors, moments="mv")
    values = {f"theta[{j}].{stat}": float(x) for j in range(len(tumors))
              for stat, x in (("mean", mean[j]), ("sd", np.sqrt(sd[j])))}
    assert not compare(pooled_run.fit, Reference("plug-in", values))["passed"].all()


def test_levels_of_bayes_side_by_side(pooled_run):
    alternatives = pooled_run.alternatives()
    for name in ("raw", "eb_moments", "type2_ml", "type2_map", "grid_full_bayes", "full_bayes"):
        assert "theta[70].mean" in alternatives[name], name
    assert alternatives["raw"]["theta[70].mean"] == pytest.approx(4 / 14)
    # shrinkage: every method pulls 4/14 towards the pooled rate
    for name in ("eb_moments", "type2_ml", "type2_map", "full_bayes"):
        assert 0.15 < alternatives[name]["theta[70].mean"] < 4 / 14
    assert alternatives["full_bayes"]["y_new.mean"] == pytest.approx(
        alternatives["grid_full_bayes"]["y_new.mean"], abs=0.1)


def test_pooling_compared_by_loo(pooled_run):
    alternatives = pooled_run.alternatives()
    loo = {name: alternatives[f"loo_{name}"] for name in ("partial_pooling", "no_pooling", "complete_pooling")}
    assert set(pooled_run.fit.extra) == {"no_pooling", "complete_pooling"}
    assert max(loo, key=lambda name: loo[name]["elpd_loo"]) == "partial_pooling"
    assert loo["partial_pooling"]["elpd_diff"] == 0
    assert all(values["pareto_k.max"] > 0 for values in loo.values())
    assert loo["complete_pooling"]["p_loo"] < loo["partial_pooling"]["p_loo"] < loo["no_pooling"]["p_loo"]


def test_shrinkage_plot_writes_png(pooled_run, tmp_path):
    path = shrinkage_plot(pooled_run, tmp_path / "shrinkage.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _csv(tmp_path, text):
    path = tmp_path / "rats.csv"
    path.write_text(text)
    return str(path)


def test_verify_on_user_data(tmp_path, capsys):
    rng = np.random.default_rng(11)
    rats = rng.integers(15, 60, size=25)
    tumors = rng.binomial(rats, rng.beta(3.0, 12.0, size=25))
    text = "tumors,rats\n" + "".join(f"{y},{n}\n" for y, n in zip(tumors, rats))
    assert main(["verify", "rat-tumors", "--data", _csv(tmp_path, text), "--json", "--seed", "7",
                 "--quiet"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["diagnostics"]["divergences"] == 0
    names = {check["name"] for check in document["checks"]}
    assert {"log_alpha_plus_beta.mean", "log_alpha_plus_beta.sd", "theta[24].sd"} <= names
    assert document["alternatives"]["raw"]["theta[24].mean"] == pytest.approx(tumors[-1] / rats[-1])


BAD = [
    ("more tumors than rats", "tumors,rats\n1,10\n12,10\n2,9\n", "line 3: 'tumors' is larger than 'rats'"),
    ("no rats", "tumors,rats\n1,10\n0,0\n2,9\n", "line 3: 'rats' must be at least 1"),
    ("negative", "tumors,rats\n1,10\n-1,10\n2,9\n", "line 3, column 'tumors': '-1' is negative"),
    ("fraction", "tumors,rats\n1,10\n1,10.5\n2,9\n", "line 3, column 'rats': '10.5' is not a whole"),
    ("text", "tumors,rats\n1,10\nfour,14\n2,9\n", "line 3, column 'tumors': 'four' is not a number"),
    ("missing column", "tumors,n\n1,10\n", "missing column 'rats'"),
    ("too few rows", "tumors,rats\n1,10\n2,9\n", "at least 3 experiments"),
    ("improper posterior", "tumors,rats\n0,10\n0,9\n5,5\n", "improper"),
    # issue 18: 1e20 became -2**63, passed these checks and crashed the process
    ("huge count", "tumors,rats\n1,20\n1e20,20\n2,20\n",
     "line 3, column 'tumors': '1e20' is too large; a count must be at most 2**53"),
    ("just above 2**53", "tumors,rats\n1,20\n1,9007199254740993\n2,20\n", "is too large"),
    ("more rats than the reference can take", "tumors,rats\n1,20\n1,10001\n2,20\n",
     "line 3, column 'rats': '10001' is larger than 10,000, the most this model takes"),
    ("blank lines before a bad row", "tumors,rats\n1,10\n\n \n12,10\n2,9\n",
     "line 5: 'tumors' is larger than 'rats'"),
]


@pytest.mark.parametrize("label, text, message", BAD, ids=[b[0] for b in BAD])
def test_bad_data_is_one_line_exit_2_nothing_written(rejects, label, text, message):
    rejects(["run", "rat-tumors", "--data", "{csv}", "--out", "{out}", *FAST], message, text)


def test_report_figures_show_shrinkage_and_the_pooling_comparison(pooled_run, tmp_path):
    figures = MODEL.figures(pooled_run, tmp_path)
    assert [path.name for _, path in figures] == ["shrinkage.png", "pooling.png"]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for _, path in figures)
    assert "PSIS-LOO" in figures[1][0]


def test_report_without_pooling_says_the_comparison_did_not_run(pooled_run, tmp_path):
    unpooled = replace(pooled_run, settings={**pooled_run.settings, "compare_pooling": False})
    [(caption, path)] = MODEL.figures(unpooled, tmp_path)
    assert path.name == "shrinkage.png" and "did not run" in caption
    assert not (tmp_path / "pooling.png").exists()


def test_sbc_model_is_the_same_likelihood_under_a_proper_prior(counts):
    model = MODEL.calibration().pymc_model({})
    assert not model.potentials and [rv.name for rv in model.observed_RVs] == ["tumors"]
    assert {rv.name for rv in model.free_RVs} == {"log_alpha_over_beta", "log_alpha_plus_beta"}
    truth, observed = MODEL.calibration().simulate(model, {}, np.random.default_rng(1))
    assert np.all(observed["tumors"] <= counts[1]) and set(truth) >= {"alpha", "beta"}


def test_theta_is_drawn_from_its_exact_conditional():
    """With alpha and beta fixed, the added theta_j are Beta(alpha + y_j, beta + n_j - y_j)."""
    import xarray as xr

    from zoo.models.rat_tumors import add_conditional_theta

    tumors, rats = np.array([0, 3, 10]), np.array([10, 20, 10])
    shape = (2, 20_000)
    posterior = xr.Dataset({"alpha": (("chain", "draw"), np.full(shape, 2.0)),
                            "beta": (("chain", "draw"), np.full(shape, 8.0))})
    idata = xr.DataTree.from_dict({"posterior": posterior})
    add_conditional_theta(idata, tumors, rats, seed=3)
    theta = idata.posterior["theta"]
    assert theta.dims == ("chain", "draw", "experiment")
    expected = beta_dist(2.0 + tumors, 8.0 + rats - tumors)
    assert theta.mean(("chain", "draw")).values == pytest.approx(expected.mean(), abs=0.003)
    assert theta.std(("chain", "draw")).values == pytest.approx(expected.std(), rel=0.02)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_extreme_experiments_leave_no_numpy_warnings(tmp_path, capsys):
    """Issue 23: experiments with 0 or all rats with tumors put numpy's "divide by zero
    encountered in log" on stderr (the grid and the type-2 searches reach alpha or beta
    near 0, where the zoo handles -inf itself). A warning that leaked would fail here."""
    csv = tmp_path / "extreme.csv"
    csv.write_text("tumors,rats\n0,20\n0,20\n20,20\n0,20\n5,10\n")
    assert main(["run", "rat-tumors", "--data", str(csv), "--out", str(tmp_path / "out"),
                 "--draws", "200", "--tune", "200", "--quiet"]) in (0, 1)
    assert capsys.readouterr().err == ""


def test_smc_is_refused_in_one_line_naming_the_flat_hyperprior(tmp_path, capsys):
    """SMC starts from draws of the prior; rat-tumors' (u, v) are flat: exit 2, one line, naming
    them, and nothing written (the refusal is read off the built model, not declared)."""
    out = tmp_path / "run"
    assert main(["run", "rat-tumors", "--sampler", "smc", "--seed", "7", "--quiet",
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "log_alpha_over_beta, log_alpha_plus_beta have an improper" in error
    assert not out.exists()
