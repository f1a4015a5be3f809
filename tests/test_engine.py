"""The comparison engine and diagnostics, on synthetic draws whose answers are known."""

import numpy as np
import pytest
import xarray as xr

from zoo.compare import Z_BOUND, compare, parse_check, posterior_estimate, round_to_mcse
from zoo.diagnostics import diagnose, stuck_chains
from zoo.model import Estimate, Fit, Reference


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
    from scipy.stats import norm

    from zoo.compare import FAMILY_ALPHA, z_bound

    assert z_bound(1) == Z_BOUND
    assert z_bound(151) == pytest.approx(4.505, abs=0.01)
    assert 151 * 2 * norm.sf(z_bound(151)) == pytest.approx(FAMILY_ALPHA)
    fit = Fit(_idata({"x": NORMAL}), estimates={f"e{i}": Estimate(4.2, 1.0) for i in range(151)})
    many = compare(fit, Reference("exact", {f"e{i}": 0.0 for i in range(151)}))
    assert many["passed"].all()
    single = compare(fit, Reference("exact", {"e0": 0.0}))
    assert not single["passed"][0]


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
