"""single-coin: the lecture's grid against exact answers, and the posterior against exact."""

import numpy as np
import pytest
from scipy import integrate

from zoo.core.errors import UsageError
from zoo.models.single_coin import MODEL, exact_posterior, grid_posterior, parse_prior
from zoo.numerics.exact import lecture_grid

PRIORS = [("triangular",), ("beta", 1.0, 1.0), ("beta", 2.0, 5.0)]


def test_lecture_grid_is_the_lectures():
    theta = lecture_grid(500)
    assert theta[0] == pytest.approx(1 / 501) and theta[-1] == pytest.approx(500 / 501)
    assert np.allclose(np.diff(theta), 1 / 501)


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("heads, tails", [(3, 9), (20, 80)])
def test_grid_agrees_with_exact_to_discretisation_error(prior, heads, tails):
    grid = grid_posterior(heads, tails, prior, 500)
    exact = exact_posterior(heads, tails, prior)
    # a midpoint-like rule on spacing h = 1/501 errs by O(h^2) ~ 4e-6 on smooth densities
    assert grid["mean"] == pytest.approx(exact["mean"], abs=2e-5)
    assert grid["sd"] == pytest.approx(exact["sd"], abs=2e-5)
    # P(D) on the grid: prior mass over n points spaced 1/(n+1) misses the end intervals,
    # so for priors not vanishing at 0 and 1 it is off by a factor of about (n+1)/n
    assert grid["log_evidence"] == pytest.approx(exact["log_evidence"], abs=1.5 / 500)
    # and a coarse grid is visibly worse: the comparison can fail
    coarse = grid_posterior(heads, tails, prior, 5)
    assert abs(coarse["sd"] - exact["sd"]) > 1e-4


def test_triangular_quadrature_against_direct_integration():
    heads, tails = 3, 9
    density = lambda t: 4 * min(t, 1 - t) * t**heads * (1 - t) ** tails  # noqa: E731
    mass = integrate.quad(density, 0, 1, points=[0.5])[0]
    mean = integrate.quad(lambda t: t * density(t), 0, 1, points=[0.5])[0] / mass
    exact = exact_posterior(heads, tails, ("triangular",))
    assert exact["mean"] == pytest.approx(mean, rel=1e-9)
    assert exact["log_evidence"] == pytest.approx(np.log(mass), rel=1e-9)


def test_flat_prior_posterior_is_the_likelihood():
    """The seed: a flat prior gives a posterior the shape of the likelihood."""
    grid = grid_posterior(20, 80, ("beta", 1.0, 1.0), 500)
    likelihood = grid["likelihood"] / grid["likelihood"].sum()
    assert np.allclose(grid["posterior"], likelihood)


@pytest.mark.parametrize("text", ["beta:0,1", "beta:1", "uniform", "beta:a,b"])
def test_bad_prior_setting(text):
    with pytest.raises(ValueError):
        parse_prior(text)
    with pytest.raises(UsageError, match="prior"):
        MODEL.parse_settings([f"prior={text}"])


@pytest.fixture(scope="module")
def triangular_run(example_run):
    return example_run("single-coin")


def test_posterior_matches_exact(triangular_run):
    assert triangular_run.checks["passed"].all(), triangular_run.checks
    assert triangular_run.diagnostics.converged, triangular_run.diagnostics.problems
    assert set(triangular_run.checks["name"]) == {"theta.mean", "theta.sd"}


def test_posterior_fails_against_a_wrong_reference(triangular_run):
    """The flat-prior answer is 0.01 away from the triangular one: the check must catch it."""
    from zoo.core.compare import compare

    wrong = MODEL.reference(triangular_run.data, MODEL.parse_settings(["prior=flat"]))
    assert not compare(triangular_run.fit, wrong)["passed"].all()


@pytest.mark.parametrize("prior, kind", [("triangular", "quadrature"), ("flat", "exact"),
                                         ("beta:2,3", "exact")])
def test_the_reference_says_what_it_computed(prior, kind):
    """Issue 23: the triangular prior's reference, adaptive quadrature, was labelled "exact"
    on the console while the page said quadrature."""
    settings = MODEL.parse_settings([f"prior={prior}"])
    reference = MODEL.reference(MODEL.default_data(settings), settings)
    assert reference.kind == reference.method == kind
    assert set(reference.alternatives) == {kind, "grid"}
