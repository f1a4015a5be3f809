"""two-factories: exact evidence, the lecture's printed numbers explained, NUTS and SMC agreement."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import betaln

from zoo.models.two_factories import MODEL, exact_comparison, p_factory_sd
from zoo.numerics.exact import beta_from_mode


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
    from zoo.core.compare import compare

    wrong = MODEL.reference(default_run.data, MODEL.parse_settings(["prior=0.4,0.6"]))
    checks = compare(default_run.fit, wrong).set_index("name")
    assert not checks.loc["p_factory[0]", "passed"]


@pytest.mark.parametrize("kappa, heads, flips", [(6, 7, 10), (202, 7, 10), (20, 400, 1000)])
def test_p_factory_sd_by_quadrature_matches_exact_draws(kappa, heads, flips):
    """The quadrature of p_factory's posterior sd against 200,000 exact draws of the model's
    posterior (factory first, then the thetas), within 4 of the draws' standard errors; it is
    below the indicator's sqrt(p (1 - p)), as total variance says."""
    settings = MODEL.parse_settings([f"kappa={kappa}"])
    data = pd.DataFrame({"y": np.repeat([1, 0], [heads, flips - heads])})
    sd = p_factory_sd(heads, flips - heads, settings["omega"], settings["kappa"], settings["prior"])
    draws = MODEL.reference_draws(data, settings, 4, 50_000, np.random.default_rng(2))
    p_first = draws["p_factory"][..., 0].ravel()
    # the standard error of an sd from iid draws: sqrt(var((x - mean)^2)) / (2 sd sqrt(n))
    se = np.std((p_first - p_first.mean()) ** 2) / (2 * sd * np.sqrt(p_first.size))
    assert abs(p_first.std() - sd) < 4 * se, (p_first.std(), sd, se)
    p = exact_comparison(heads, flips - heads, settings["omega"], kappa, settings["prior"])["p_factory[0]"]
    assert sd < np.sqrt(p * (1 - p))


def test_p_factory_is_counted_once_and_graded_in_its_posterior_sd(default_run):
    """p_factory[1] is shown but derived: the bound and the count are those of two checks; the
    reference's sd of p_factory is NUTS's sd of its draws, within 4 MCSE."""
    from zoo.core.compare import posterior_estimate, z_bound
    from zoo.report.text import checks_line

    reference = default_run.reference
    assert reference.derived == {"p_factory[1]": "p_factory[0]"}
    assert default_run.z_bound == z_bound(2) and len(default_run.checks) == 3
    assert checks_line(default_run).startswith("2/2 checks within |z| <= 4 (p_factory[1] from "
                                               "p_factory[0]: derived, shown, not counted)")
    drawn = posterior_estimate(default_run.idata, "p_factory[0].sd")
    assert abs(drawn.value - reference.sds["p_factory[0]"]) < 4 * drawn.mcse


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
