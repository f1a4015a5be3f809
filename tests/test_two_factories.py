"""two-factories: exact evidence, the lecture's printed numbers explained, NUTS and SMC agreement."""

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import betaln

from zoo.models.two_factories import MODEL, exact_comparison
from zoo.exact import beta_from_mode


@pytest.mark.parametrize("kappa", [6.0, 202.0])
def test_exact_evidence_against_quadrature(kappa):
    heads, tails = 7, 3
    exact = exact_comparison(heads, tails, (0.25, 0.75), kappa, (0.5, 0.5))
    for m, omega in enumerate((0.25, 0.75)):
        a, b = beta_from_mode(omega, kappa)
        evidence = integrate.quad(lambda t: stats.beta.pdf(t, a, b) * t**heads * (1 - t) ** tails,
                                  0, 1, epsrel=1e-12, points=[omega])[0]
        assert exact[f"log_evidence[{m}]"] == pytest.approx(np.log(evidence), rel=1e-9)
    assert exact["p_factory[0]"] + exact["p_factory[1]"] == pytest.approx(1.0)


def test_seed_prints_the_hints_buggy_numbers():
    """The lecture's 0.1415 / 0.000314 follow from its hint's betaln(z+1, ...), not its solution."""

    def hint_p1(kappa):
        z, n = 7, 10
        logs = [betaln(z + 1, n - z + beta_from_mode(w, kappa)[1]) - betaln(*beta_from_mode(w, kappa))
                for w in (0.25, 0.75)]
        return 1 / (1 + np.exp(logs[1] - logs[0]))

    assert hint_p1(6) == pytest.approx(0.14150943396226423, rel=1e-9)
    assert hint_p1(202) == pytest.approx(0.0003137382044470833, rel=1e-9)
    assert exact_comparison(7, 3, (0.25, 0.75), 6, (0.5, 0.5))["p_factory[0]"] == pytest.approx(0.25)


@pytest.fixture(scope="module")
def default_run(example_run):
    return example_run("two-factories")


def test_nuts_and_smc_match_exact(default_run):
    assert default_run.passed, (default_run.checks, default_run.diagnostics.problems)
    assert set(default_run.checks["name"]) == {"p_factory[0]", "p_factory[1]", "log_bf"}
    assert default_run.fit.alternatives["smc"]["log_bf"] == pytest.approx(
        default_run.reference.values["log_bf"], abs=0.05)


def test_wrong_factory_prior_is_detected(default_run):
    """A reference for prior 0.4/0.6 (p_factory[0] 0.18 instead of 0.25) must fail."""
    from zoo.compare import compare

    wrong = MODEL.reference(default_run.data, MODEL.parse_settings(["prior=0.4,0.6"]))
    checks = compare(default_run.fit, wrong).set_index("name")
    assert not checks.loc["p_factory[0]", "passed"]


def test_log_bf_mcse_carries_welch_degrees_of_freedom(default_run):
    """8 + 8 SMC chains: the MCSE's df lies between 7 (one factory's spread dominates) and 14
    (equal spreads), and the check's z is the normal equivalent of the raw t, never larger."""
    from zoo.models.two_factories import SMC_MIN_CHAINS, log_bf_estimate

    rng = np.random.default_rng(0)
    equal = log_bf_estimate(np.arange(8.0), np.arange(8.0) + 3.0)
    assert equal.value == pytest.approx(-3.0) and equal.df == pytest.approx(14.0)
    assert log_bf_estimate(rng.normal(0, 1, 8), rng.normal(0, 1e-6, 8)).df == pytest.approx(7.0)
    estimate = default_run.fit.estimates["log_bf"]
    assert SMC_MIN_CHAINS - 1 <= estimate.df <= 2 * SMC_MIN_CHAINS - 2
    check = default_run.checks.set_index("name").loc["log_bf"]
    raw = (check["estimate"] - check["reference"]) / check["mcse"]
    assert abs(check["z"]) <= abs(raw) and np.sign(check["z"]) == np.sign(raw)
    assert [n for n in default_run.checks.attrs["notes"] if n.startswith("log_bf: ")]
