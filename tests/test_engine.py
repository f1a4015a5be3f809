"""The comparison engine and diagnostics, on synthetic draws whose answers are known."""

import json
import math

import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm
from scipy.stats import t as student_t

from zoo.core.compare import (Z_BOUND, compare, normal_equivalent, parse_check, posterior_estimate,
                              round_to_mcse)
from zoo.core.diagnostics import NAMES_SHOWN, diagnose, stuck_chains
from zoo.core.results import Estimate, Fit, Reference


def _idata(draws: dict[str, np.ndarray], diverging=None) -> xr.DataTree:
    posterior = xr.Dataset({name: (("chain", "draw", *[f"{name}_dim_{i}" for i in range(x.ndim - 2)]), x)
                            for name, x in draws.items()})
    chains, n = next(iter(draws.values())).shape[:2]
    stats = xr.Dataset({"diverging": (("chain", "draw"),
                                      np.zeros((chains, n), bool) if diverging is None else diverging)})
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


RNG = np.random.default_rng(0)
NORMAL = RNG.normal(1.0, 2.0, size=(4, 1000))
VECTOR = RNG.normal([0.0, 5.0], 1.0, size=(4, 1000, 2))


def test_parse_check_names():
    assert parse_check("theta") == ("theta", None, "mean")
    assert parse_check("theta[12].sd") == ("theta", 12, "sd")
    assert parse_check("p_factory[0]") == ("p_factory", 0, "mean")
    with pytest.raises(ValueError):
        parse_check("theta[a].mean")


def test_estimates_read_the_right_element():
    idata = _idata({"mu": VECTOR})
    assert posterior_estimate(idata, "mu[1].mean").value == pytest.approx(VECTOR[..., 1].mean())
    assert posterior_estimate(idata, "mu[0].sd").value == pytest.approx(VECTOR[..., 0].std(ddof=1))
    # iid draws: MCSE of the mean is about sd / sqrt(4000)
    assert posterior_estimate(idata, "mu[0].mean").mcse == pytest.approx(1 / np.sqrt(4000), rel=0.15)


def test_correct_reference_passes_and_wrong_one_fails():
    fit = Fit(_idata({"x": NORMAL}))
    right = compare(fit, Reference("exact", {"x.mean": 1.0, "x.sd": 2.0}))
    assert right["passed"].all() and (right["z"].abs() < Z_BOUND).all()
    # 0.2 is about 6 MCSE (2 / sqrt(4000) = 0.032): must fail
    wrong = compare(fit, Reference("exact", {"x.mean": 1.2, "x.sd": 2.0}))
    assert list(wrong["passed"]) == [False, True]


def test_many_checks_widen_the_bound_family_wise():
    """1 check: |z| <= 4; 151 checks (rat tumors): about 4.5, so that a correct model fails by
    chance in at most 1 run in 1000 however many checks it has."""
    from zoo.core.compare import FAMILY_ALPHA, z_bound

    assert z_bound(1) == Z_BOUND
    assert z_bound(151) == pytest.approx(4.505, abs=0.01)
    assert 151 * 2 * norm.sf(z_bound(151)) == pytest.approx(FAMILY_ALPHA)
    fit = Fit(_idata({"x": NORMAL}), estimates={f"e{i}": Estimate(4.2, 1.0) for i in range(151)})
    many = compare(fit, Reference("exact", {f"e{i}": 0.0 for i in range(151)}))
    assert many["passed"].all()
    single = compare(fit, Reference("exact", {"e0": 0.0}))
    assert not single["passed"][0]


def test_a_derived_check_is_shown_but_does_not_widen_the_bound():
    """40 checks of which 20 are derived exactly from the other 20 (as p_factory[1] from
    p_factory[0]) are held to the bound of 20; a derived check must name a check that counts."""
    from zoo.core.compare import z_bound

    fit = Fit(_idata({"x": NORMAL}), estimates={f"e{i}": Estimate(0.0, 1.0) for i in range(40)})
    values = {f"e{i}": 0.0 for i in range(40)}
    derived = {f"e{i + 20}": f"e{i}" for i in range(20)}
    checks = compare(fit, Reference("exact", values, derived=derived))
    assert list(checks["name"]) == list(values)  # every check shown
    assert checks.attrs["z_bound"] == z_bound(20) < z_bound(40)
    with pytest.raises(ValueError, match="derived check"):
        Reference("exact", values, derived={"e1": "e40"})
    with pytest.raises(ValueError, match="derived check"):
        Reference("exact", values, derived={"e1": "e2", "e2": "e3"})
    with pytest.raises(ValueError, match="not one of"):
        Reference("exact", values, kind="exactly")


def test_reference_error_widens_the_bound():
    fit = Fit(_idata({"x": NORMAL}))
    strict = compare(fit, Reference("grid", {"x.mean": 1.2}))
    lenient = compare(fit, Reference("grid", {"x.mean": 1.2}, errors={"x.mean": 0.1}))
    assert not strict["passed"][0] and lenient["passed"][0]


def test_estimates_from_fit_take_precedence():
    fit = Fit(_idata({"x": NORMAL}), estimates={"log_bf": Estimate(-1.0, 0.01)})
    checks = compare(fit, Reference("exact", {"log_bf": -1.1}))
    assert checks["z"][0] == pytest.approx(10.0)


def test_diagnostics_flag_divergences_rhat_and_stuck_chain():
    assert diagnose(_idata({"x": NORMAL})).converged
    diverging = np.zeros((4, 1000), bool)
    diverging[2, 10] = True
    assert diagnose(_idata({"x": NORMAL}, diverging)).divergences == 1
    stuck = NORMAL.copy()
    stuck[3] += 10.0
    diag = diagnose(_idata({"x": stuck}))
    assert diag.stuck_chains == [3] and diag.r_hat_max > 1.01 and not diag.converged
    assert stuck_chains({"x": NORMAL}) == []


def test_low_ess_is_a_problem():
    autocorrelated = np.cumsum(RNG.normal(size=(4, 1000)), axis=1) * 0.01
    assert any("ESS" in p for p in diagnose(_idata({"x": autocorrelated})).problems)


@pytest.mark.parametrize("value, mcse, text", [(0.32846, 0.0028, "0.328"), (12.345, 0.4, "12.3"),
                                               (1234.5, 30.0, "1234"), (0.5, 0.0, "0.5")])
def test_rounding_to_mcse(value, mcse, text):
    assert round_to_mcse(value, mcse) == text


# --- no hidden failure: NaN, inf and constant draws, NaN or t-distributed checks -------------

def test_nan_draws_fail_by_name_even_when_listed_first():
    """A NaN first used to win max(..., key=dict.get) and pass (nan > 1.01 is False)."""
    broken = NORMAL.copy()
    broken[1, 17] = np.nan
    diag = diagnose(_idata({"a": broken, "b": NORMAL}))
    assert not diag.converged
    assert math.isnan(diag.r_hat_max) and math.isnan(diag.ess_bulk_min)
    assert diag.problems == ["draws not all finite (NaN or inf): a (1)"]


def test_infinite_draws_fail_although_rank_r_hat_is_finite():
    broken = NORMAL.copy()
    broken[0, 3] = np.inf
    diag = diagnose(_idata({"x": broken}))
    assert not diag.converged and "draws not all finite (NaN or inf): x (1)" in diag.problems


def test_constant_draws_are_a_problem_grouped_in_one_sentence():
    constant = np.zeros((4, 1000, 150))
    diag = diagnose(_idata({"theta": constant, "x": NORMAL}))
    assert not diag.converged and len(diag.problems) == 1
    shown = ", ".join(f"theta[{i}]" for i in range(NAMES_SHOWN))
    assert diag.problems[0] == f"constant draws (R-hat and ESS undefined): {shown}, ... (150)"
    assert math.isnan(diag.r_hat_max)


def test_nothing_to_diagnose_is_not_convergence():
    empty = _idata({"x": np.zeros((4, 1000, 0))})
    diag = diagnose(empty)
    assert not diag.converged and diag.problems == ["no posterior scalar to diagnose"]


def test_non_finite_r_hat_is_a_problem(monkeypatch):
    """A NaN from ArviZ itself (finite, varying draws) is reported, not skipped."""
    import arviz  # the module itself: zoo.core.diagnostics's az is a deferred stand-in for it

    monkeypatch.setattr(arviz, "rhat", lambda x: float("nan"))
    diag = diagnose(_idata({"x": NORMAL}))
    assert diag.problems == ["R-hat not finite: x (1)"] and math.isnan(diag.r_hat_max)


def test_every_r_hat_beyond_the_limit_is_counted():
    shifted = NORMAL.copy()
    shifted[3] += 10.0
    diag = diagnose(_idata({"a": shifted, "b": shifted * 2}))
    r_hat = [p for p in diag.problems if p.startswith("R-hat")]
    assert len(r_hat) == 1 and r_hat[0].endswith("(and 1 more)")


def test_nan_diagnostics_print_and_serialise():
    from zoo.report import text as report

    constant = np.zeros((4, 1000))
    diag = diagnose(_idata({"x": constant}))
    result = type("R", (), {"diagnostics": diag})()
    assert "max R-hat nan" in report.diagnostics_line(result)
    assert f"{diag.ess_bulk_min:.0f}" == "nan"
    assert json.loads(json.dumps(diag.as_dict()))["r_hat_max"] != 0  # NaN survives as NaN


@pytest.mark.parametrize("value, mcse, ref, z", [
    (math.nan, 0.1, 1.0, math.nan), (1.0, math.nan, 1.0, math.nan), (1.0, 0.1, math.nan, math.nan),
    (math.inf, 0.1, 1.0, math.inf), (1.0, math.inf, 1.0, math.nan), (-math.inf, 0.1, 1.0, -math.inf),
])
def test_non_finite_check_fails_and_shows_its_z(value, mcse, ref, z):
    checks = compare(Fit(_idata({"x": NORMAL}), estimates={"e": Estimate(value, mcse)}),
                     Reference("exact", {"e": ref}))
    assert not checks["passed"][0]
    assert checks["z"][0] == z or (math.isnan(z) and math.isnan(checks["z"][0]))


def test_nan_reference_error_fails():
    checks = compare(Fit(_idata({"x": NORMAL})),
                     Reference("grid", {"x.mean": 1.0}, errors={"x.mean": math.nan}))
    assert not checks["passed"][0] and math.isnan(checks["z"][0])


def test_t_with_few_degrees_of_freedom_is_checked_at_the_normal_tail():
    """t = 4.5 on 14 df is as rare as z = 3.66: it passes; t = 6 is as rare as z = 4.2: fails."""
    assert normal_equivalent(4.5, 14) == pytest.approx(norm.isf(student_t.sf(4.5, 14)))
    assert normal_equivalent(-4.5, 14) == pytest.approx(-normal_equivalent(4.5, 14))
    assert normal_equivalent(2.0, 1e12) == pytest.approx(2.0)
    fit = Fit(_idata({"x": NORMAL}), estimates={"bf": Estimate(4.5, 1.0, df=14.0),
                                                 "far": Estimate(-6.0, 1.0, df=14.0),
                                                 "plain": Estimate(4.5, 1.0)})
    checks = compare(fit, Reference("exact", {"bf": 0.0, "far": 0.0, "plain": 0.0})).set_index("name")
    assert checks.loc["bf", "passed"] and abs(checks.loc["bf", "z"]) < Z_BOUND
    assert not checks.loc["far", "passed"] and checks.loc["far", "z"] < -Z_BOUND
    assert not checks.loc["plain", "passed"] and checks.loc["plain", "z"] == 4.5
    notes = checks.attrs["notes"]
    assert len(notes) == 2 and "t = +4.50 on 14.0 degrees of freedom" in notes[0]


def test_reference_error_adds_degrees_of_freedom():
    """An exact-df reference error makes the combined scale closer to normal (Welch)."""
    fit = Fit(_idata({"x": NORMAL}), estimates={"bf": Estimate(4.5, 1.0, df=5.0)})
    alone = compare(fit, Reference("exact", {"bf": 0.0}))
    helped = compare(fit, Reference("exact", {"bf": 0.0}, errors={"bf": 1e-9}))
    assert helped["z"][0] == pytest.approx(alone["z"][0])
    widened = compare(fit, Reference("exact", {"bf": 0.0}, errors={"bf": 1.0}))
    assert "on 20.0 degrees of freedom" in widened.attrs["notes"][0]
