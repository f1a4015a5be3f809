"""The log-density cross-check (zoo/core/density_check.py): it fails on a fault in a helper shared by
``build`` and the reference, and on a fault in any PyMC model a fit samples; its arithmetic (the
deviation, the Jacobian of a simplex, the points) on its own. That it passes on every model's
example and user data, and fails on a slightly wrong likelihood, is in tests/test_contract.py."""

import dataclasses

import numpy as np
import pymc as pm
import pytest

import zoo.models.gmm as gmm
import zoo.models.mint as mint
import zoo.models.missing_data as missing_data
import zoo.models.two_factories as two_factories
from zoo.core.density_check import (RELATIVE_TOLERANCE, PymcSide, check_points, compare,
                                    density_check, deviation)
from zoo.core.model import Density
from zoo.numerics.exact import beta_from_mode

def check_of(model):
    settings = model.parse_settings()
    data = model.default_data(settings)
    return density_check(model, data, settings, model.build(data, settings))


def swapped_shapes(omega, kappa):
    a, b = beta_from_mode(omega, kappa)
    return b, a


def sigma_scale_off(x, settings, resolve_priors=gmm.resolve_priors):
    priors = resolve_priors(x, settings)
    return dataclasses.replace(priors, sigma_scale=1.2 * priors.sigma_scale)


def shape_off(frame, default_prior=missing_data.default_prior):
    prior = default_prior(frame)
    return dataclasses.replace(prior, shape_x1=1.2 * prior.shape_x1)


@pytest.mark.parametrize("module, helper, fault", [
    (mint, "beta_from_mode", swapped_shapes),
    (two_factories, "beta_from_mode", swapped_shapes),
    (gmm, "resolve_priors", sigma_scale_off),
    (missing_data, "default_prior", shape_off),
])
def test_fails_on_a_fault_in_a_helper_build_shares_with_the_reference(module, helper, fault,
                                                                       monkeypatch):
    monkeypatch.setattr(module, helper, fault)
    check = check_of(module.MODEL)
    assert not check.passed and check.max_deviation > 100 * check.tolerance


def test_two_factories_checks_each_smc_factory_model(monkeypatch):
    correct_factory_model = two_factories.TwoFactories.factory_model

    def second_factory_off(self, data, settings, factory):
        kappa = settings["kappa"] * (1.2 if factory == 1 else 1.0)
        return correct_factory_model(self, data, {**settings, "kappa": kappa}, factory)

    monkeypatch.setattr(two_factories.TwoFactories, "factory_model", second_factory_off)
    check = check_of(two_factories.MODEL)
    assert not check.passed
    assert [note for note in check.notes if "factory 2" in note] and not [
        note for note in check.notes if "factory 1" in note]


def beta_bernoulli(alpha=2.0, beta=3.0):
    with pm.Model() as model:
        theta = pm.Beta("theta", alpha, beta)
        pm.Bernoulli("y", p=theta, observed=np.array([1, 0, 1]))
    return model


def test_the_jacobian_comes_from_the_check_not_the_density():
    def natural_density(values):  # Beta(2, 3) prior, 2 heads and 1 tail, natural scale
        theta = values["theta"]
        return float(3 * np.log(theta) + 3 * np.log1p(-theta))

    assert compare(Density("beta", beta_bernoulli(), natural_density)).passed
    wrong_prior = compare(Density("beta", beta_bernoulli(alpha=2.5), natural_density))
    assert not wrong_prior.passed and wrong_prior.max_deviation > 0.1


def test_a_simplex_is_checked_on_all_but_its_last_coordinate():
    with pm.Model() as model:
        pm.Dirichlet("w", a=np.array([2.0, 3.0, 4.0]))
    log_normaliser = np.log(40320 / 24)  # Gamma(9) / (Gamma(2) Gamma(3) Gamma(4))

    def dirichlet(values):
        w = values["w"]
        return float(np.log(w) @ np.array([1.0, 2.0, 3.0]) + log_normaliser)

    assert compare(Density("simplex", model, dirichlet)).passed


def test_no_independent_density_fails_and_says_why():
    result = compare(Density("the model", beta_bernoulli(), None))
    assert not result.passed and "no independent log posterior" in result.problem


def test_an_exception_in_the_independent_density_is_a_failure_not_a_crash():
    def broken(values):
        raise KeyError("thetta")

    result = compare(Density("the model", beta_bernoulli(), broken))
    assert not result.passed and "KeyError" in result.problem


def test_deviation_is_from_a_constant_and_scaled_by_the_magnitude():
    pymc_values = np.array([-10.0, -20.0, -30.0] * 4)
    assert deviation("x", pymc_values, pymc_values + 7.0).passed  # a constant apart
    shifted = pymc_values + 7.0
    shifted[3] += 1e-6
    off = deviation("x", pymc_values, shifted)
    assert not off.passed and off.max_deviation == pytest.approx(1e-6, rel=1e-3)
    assert off.tolerance == pytest.approx(RELATIVE_TOLERANCE * (1 + 30.0))


def test_a_point_finite_on_one_side_only_fails_and_both_minus_inf_are_left_out():
    values = np.linspace(-5.0, -1.0, 12)
    one_sided = values.copy()
    one_sided[0] = -np.inf
    assert not deviation("x", values, one_sided).passed
    both = values.copy()
    both[0] = -np.inf
    kept = deviation("x", both, both + 1.0)
    assert kept.passed and kept.points == values.size - 1
    assert not deviation("x", np.full(12, np.nan), values).passed


def test_the_points_are_the_same_at_every_call_and_spread():
    model = beta_bernoulli()
    first, second = check_points(model), check_points(model)
    assert len(first) >= 20
    assert all(np.array_equal(a["theta_logodds__"], b["theta_logodds__"]) for a, b in zip(first, second))
    spread = np.ptp([p["theta_logodds__"] for p in first])
    assert spread > 1.0
    logp, natural, log_jacobian = PymcSide(model)(first[1])
    assert 0 < natural["theta"] < 1 and np.isfinite(logp + log_jacobian)
