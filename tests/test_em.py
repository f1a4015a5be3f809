"""Tests of zoo.numerics.em: EM invariants, classical answers (scikit-learn, scipy), failure modes."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from zoo.numerics import em

# The lecture's generative story (Lecture 14, "Gaussian Mixture Model").
LECTURE_WEIGHTS = np.array([0.4, 0.2, 0.4])
LECTURE_MEANS = np.array([2.0, 5.0, 10.0])
LECTURE_SDS = np.array([0.6, 0.8, 0.5])

# A 2-D mixture with correlated, unequal covariances.
PLANE_WEIGHTS = np.array([0.5, 0.3, 0.2])
PLANE_MEANS = np.array([[0.0, 0.0], [3.0, 1.0], [-1.0, 4.0]])
PLANE_COVS = np.array([[[1.0, 0.5], [0.5, 1.0]], [[0.5, -0.2], [-0.2, 0.8]],
                       [[1.5, 0.0], [0.0, 0.3]]])
PLANE_START = ([1 / 3] * 3, [[0.5, 0.5], [2.0, 0.0], [0.0, 3.0]], [np.eye(2)] * 3)


def lecture_sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=n, p=LECTURE_WEIGHTS)
    return rng.normal(LECTURE_MEANS[z], LECTURE_SDS[z])


def plane_sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=n, p=PLANE_WEIGHTS)
    chol = np.linalg.cholesky(PLANE_COVS)
    return PLANE_MEANS[z] + np.einsum("nij,nj->ni", chol[z], rng.normal(size=(n, 2)))


def scipy_loglik(x, weights, means, covs) -> float:
    """Mixture log-likelihood from scipy.stats densities, independent of zoo.numerics.em."""
    if np.ndim(x) == 1:
        dens = [stats.norm.logpdf(x, m, np.sqrt(v)) for m, v in zip(means, covs, strict=True)]
    else:
        dens = [stats.multivariate_normal.logpdf(x, m, c) for m, c in zip(means, covs, strict=True)]
    return float(logsumexp(np.log(weights)[:, None] + np.array(dens), axis=0).sum())


def test_gmm_loglik_matches_scipy_densities():
    x, y = lecture_sample(500, 1), plane_sample(500, 1)
    lecture = (LECTURE_WEIGHTS, LECTURE_MEANS, LECTURE_SDS**2)
    plane = (PLANE_WEIGHTS, PLANE_MEANS, PLANE_COVS)
    assert em.gmm_loglik(x, *lecture) == pytest.approx(scipy_loglik(x, *lecture), rel=1e-12)
    assert em.gmm_loglik(y, *plane) == pytest.approx(scipy_loglik(y, *plane), rel=1e-12)


@pytest.mark.parametrize("dims", [1, 2])
def test_trace_is_the_increasing_loglik_of_the_iterates(dims):
    """trace[t] is the log-likelihood (recomputed with scipy) after t updates, never lower."""
    if dims == 1:
        x, start = lecture_sample(400, 2), ([1 / 3] * 3, [1.0, 4.0, 8.0], [4.0, 4.0, 4.0])
    else:
        x, start = plane_sample(400, 2), PLANE_START
    full = em.fit_gmm(x, 3, init=start, max_iter=12)
    assert full.n_iter == 12 and not full.converged and full.loglik_trace.size == 13
    assert np.all(np.diff(full.loglik_trace) > 0)
    # One update is the lecture's E-step and M-step formulas, computed directly.
    weights, means, covs = (np.asarray(p, dtype=float) for p in start)
    if dims == 1:
        dens = [stats.norm.pdf(x, m, np.sqrt(v)) for m, v in zip(means, covs, strict=True)]
    else:
        dens = [stats.multivariate_normal.pdf(x, m, c) for m, c in zip(means, covs, strict=True)]
    resp = weights[:, None] * np.array(dens)
    resp /= resp.sum(axis=0)
    counts = resp.sum(axis=1)
    new_means = resp @ x / (counts if dims == 1 else counts[:, None])
    dev = x[None] - new_means[:, None]
    if dims == 1:
        new_covs = np.einsum("kn,kn->k", resp, dev**2) / counts
    else:
        new_covs = np.einsum("kn,kni,knj->kij", resp, dev, dev) / counts[:, None, None]
    one = em.fit_gmm(x, 3, init=start, max_iter=1)
    order = np.argsort(new_means if dims == 1 else new_means[:, 0])
    np.testing.assert_allclose(one.weights, counts[order] / len(x), rtol=1e-12)
    np.testing.assert_allclose(one.means, new_means[order], rtol=1e-12)
    np.testing.assert_allclose(one.covariances, new_covs[order], rtol=1e-12)
    for t in (1, 4, 12):
        partial = em.fit_gmm(x, 3, init=start, max_iter=t)
        direct = scipy_loglik(x, partial.weights, partial.means, partial.covariances)
        assert partial.loglik == pytest.approx(direct, rel=1e-12)
        assert full.loglik_trace[t] == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("fit", [em.fit_gmm, em.fit_map_gmm, em.fit_kmeans])
@pytest.mark.parametrize("dims", [1, 2])
def test_every_fit_climbs_monotonically_to_convergence(fit, dims):
    x = lecture_sample(2000, 3) if dims == 1 else plane_sample(2000, 3)
    result = fit(x, 3, restarts=3)
    trace = result.loglik_trace
    assert result.converged and result.n_iter == trace.size - 1 < result.max_iter
    assert np.all(np.diff(trace) >= -1e-12 * np.abs(trace[1:]))
    assert trace[-1] == np.nanmax(result.restart_logliks)
    assert np.all(np.diff(result.means if dims == 1 else result.means[:, 0]) > 0)


def test_a_broken_m_step_raises_likelihood_decreased(monkeypatch):
    calls = []
    real_update = em._ml_update

    def broken_update(params, moments, n, *, floor):
        weights, means, covs = real_update(params, moments, n, floor=floor)
        calls.append(1)
        return (weights, means + 1.0, covs) if len(calls) == 3 else (weights, means, covs)

    monkeypatch.setattr(em, "_ml_update", broken_update)
    x = lecture_sample(1000, 4)
    with pytest.raises(em.LikelihoodDecreased) as caught:
        em.fit_gmm(x, 3, restarts=1)
    trace = caught.value.loglik_trace
    assert trace.size == 4 and trace[-1] < trace[-2] and np.all(np.diff(trace[:-1]) > 0)


def test_restarts_reach_the_optimum_a_bad_start_misses():
    x = lecture_sample(2000, 20)
    stuck = em.fit_gmm(x, 3, init=([1 / 3] * 3, [3.5, 9.5, 10.5], [2.25, 0.25, 0.25]))
    best = em.fit_gmm(x, 3, restarts=10, seed=0)
    assert stuck.converged and best.converged
    assert best.loglik > stuck.loglik + 100
    np.testing.assert_allclose(best.means, LECTURE_MEANS, atol=0.1)
    assert np.abs(stuck.means - LECTURE_MEANS).max() > 1
    assert best.restart_logliks.size == 10 and best.loglik == best.restart_logliks.max()
    again = em.fit_gmm(x, 3, restarts=10, seed=0)
    np.testing.assert_array_equal(again.means, best.means)
    np.testing.assert_array_equal(again.restart_logliks, best.restart_logliks)


def test_recovers_lecture_parameters_within_sampling_error():
    n = 20_000
    fit = em.fit_gmm(lecture_sample(n, 5), 3)
    expected_count = n * LECTURE_WEIGHTS
    se_weight = np.sqrt(LECTURE_WEIGHTS * (1 - LECTURE_WEIGHTS) / n)
    se_mean = LECTURE_SDS / np.sqrt(expected_count)
    se_sd = LECTURE_SDS / np.sqrt(2 * expected_count)
    assert np.all(np.abs(fit.weights - LECTURE_WEIGHTS) < 4 * se_weight)
    assert np.all(np.abs(fit.means - LECTURE_MEANS) < 4 * se_mean)
    assert np.all(np.abs(fit.sds - LECTURE_SDS) < 4 * se_sd)


def test_recovers_plane_parameters_within_sampling_error():
    n = 20_000
    fit = em.fit_gmm(plane_sample(n, 6), 3, restarts=3)
    order = np.argsort(PLANE_MEANS[:, 0])
    counts = n * PLANE_WEIGHTS[order]
    variances = np.diagonal(PLANE_COVS[order], axis1=1, axis2=2)
    assert np.all(np.abs(fit.means - PLANE_MEANS[order])
                  < 4 * np.sqrt(variances / counts[:, None]))
    assert np.all(np.abs(fit.covariances - PLANE_COVS[order])
                  < 4 * np.sqrt(2 / counts)[:, None, None] * variances.max())


def _sklearn_fit(x2d, start, tol):
    from sklearn.mixture import GaussianMixture

    weights, means, covs = start
    d = x2d.shape[1]
    model = GaussianMixture(
        n_components=len(weights), covariance_type="full", tol=tol, reg_covar=0.0,
        max_iter=10_000, n_init=1, init_params="random_from_data", random_state=0,
        weights_init=np.asarray(weights), means_init=np.asarray(means).reshape(-1, d),
        precisions_init=np.linalg.inv(np.asarray(covs).reshape(-1, d, d)))
    with threadpool_limits(1):  # small data: threads only contend on a busy 2-core machine
        return model.fit(x2d)


@pytest.mark.parametrize("dims", [1, 2])
def test_matches_sklearn_gaussian_mixture_from_the_same_start(dims):
    if dims == 1:
        x, start = lecture_sample(3000, 7), ([1 / 3] * 3, [1.0, 4.0, 8.0], [4.0, 4.0, 4.0])
    else:
        x, start = plane_sample(1500, 7), PLANE_START
    ours = em.fit_gmm(x, 3, init=start, tol=1e-15)
    # scikit-learn's tol bounds the change of the mean log-likelihood: the same rule.
    theirs = _sklearn_fit(x.reshape(len(x), -1), start, tol=1e-15 * abs(ours.loglik) / len(x))
    assert ours.converged and theirs.converged_
    order = np.argsort(theirs.means_[:, 0])
    sk_weights, sk_means = theirs.weights_[order], theirs.means_[order]
    sk_covs = theirs.covariances_[order]
    if dims == 1:
        sk_means, sk_covs = sk_means[:, 0], sk_covs[:, 0, 0]
    assert ours.loglik == pytest.approx(em.gmm_loglik(x, sk_weights, sk_means, sk_covs),
                                        rel=1e-13)
    assert ours.loglik / len(x) == pytest.approx(theirs.lower_bound_, rel=1e-13)
    np.testing.assert_allclose(ours.weights, sk_weights, rtol=1e-6)
    np.testing.assert_allclose(ours.means, sk_means, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.covariances, sk_covs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dims", [1, 2])
def test_hard_em_is_lloyds_kmeans(dims):
    from sklearn.cluster import KMeans

    if dims == 1:
        x, start = lecture_sample(3000, 8), np.array([1.0, 4.0, 8.0])
    else:
        x, start = plane_sample(3000, 8), np.array([[0.5, 0.5], [2.0, 0.0], [0.0, 3.0]])
    x2d = x.reshape(len(x), -1)
    ours = em.fit_kmeans(x, 3, init=start)
    kmeans = KMeans(n_clusters=3, init=start.reshape(3, -1), n_init=1, algorithm="lloyd",
                    tol=0.0, max_iter=1000)
    with threadpool_limits(1):
        theirs = kmeans.fit(x2d)
    order = np.argsort(theirs.cluster_centers_[:, 0])
    np.testing.assert_allclose(ours.means.reshape(3, -1), theirs.cluster_centers_[order],
                               rtol=1e-12)
    ours_labels = np.argmin(((x2d[:, None, :] - ours.means.reshape(1, 3, -1)) ** 2).sum(-1), 1)
    np.testing.assert_array_equal(ours_labels, np.argsort(order)[theirs.labels_])
    variance = ours.covariances[0] if dims == 1 else ours.covariances[0, 0, 0]
    assert variance * x2d.size == pytest.approx(theirs.inertia_, rel=1e-10)
    np.testing.assert_array_equal(ours.weights, np.full(3, 1 / 3))
    assert ours.converged and ours.loglik_trace[-1] == ours.loglik_trace[-2]


def test_ml_em_collapses_onto_a_point_where_map_em_does_not():
    y = np.random.default_rng(3).normal(size=50)
    top = int(np.argmax(y))  # 1.3 sd away from its nearest neighbour
    start = ([0.1, 0.9], [y[top], 0.0], [0.25, 1.0])
    # The ML likelihood is unbounded: a component on one point gains without limit as it narrows.
    variances = 10.0 ** -np.arange(2.0, 40.0, 4.0)
    narrowing = [em.gmm_loglik(y, [0.1, 0.9], [y[top], 0.0], [v, 1.0]) for v in variances]
    # each 10^4-fold narrowing adds log(100) = -log(sd ratio), without limit
    np.testing.assert_allclose(np.diff(narrowing)[1:], np.log(100.0), rtol=1e-4)
    # ML-EM heads there: the component shrinks each step until its variance underflows.
    sds = [em.fit_gmm(y, 2, init=start, max_iter=t).sds[1] for t in (1, 2)]
    assert 0.5 > sds[0] > sds[1] and sds[1] < 0.11
    with pytest.raises(em.ComponentCollapsed) as caught:
        em.fit_gmm(y, 2, init=start)
    assert np.all(np.diff(caught.value.loglik_trace) > 0)
    # MAP-EM from the same start converges, its variances bounded below by the prior.
    prior = em.MixturePrior(df=3.0, scale=0.25)
    fit = em.fit_map_gmm(y, 2, prior, init=start)
    assert fit.converged and np.isfinite(fit.loglik)
    assert np.all(fit.covariances >= 0.25 / (3.0 + len(y) + 3))
    assert fit.sds.min() > 0.1


def test_collapsed_restarts_are_skipped_and_all_collapsed_raises():
    y = np.random.default_rng(3).normal(size=50)
    mixed = em.fit_gmm(np.append(y, 8.0), 2, restarts=5, seed=0)
    assert 0 < np.isnan(mixed.restart_logliks).sum() < 5
    assert mixed.loglik == np.nanmax(mixed.restart_logliks)
    with pytest.raises(em.ComponentCollapsed):
        em.fit_gmm(np.append(y, 40.0), 2, restarts=5, seed=0)
    assert np.isfinite(em.fit_map_gmm(np.append(y, 40.0), 2, restarts=5, seed=0).loglik)


def _scipy_log_posterior(x, fit, prior):
    """log-likelihood + log-prior from scipy.stats, independent of zoo.numerics.em."""
    k = fit.weights.size
    value = scipy_loglik(x, fit.weights, fit.means, fit.covariances)
    value += stats.dirichlet.logpdf(fit.weights, [prior.alpha] * k)
    for mean, cov in zip(fit.means, fit.covariances, strict=True):
        if np.ndim(x) == 1:
            value += stats.norm.logpdf(mean, prior.mean, np.sqrt(cov / prior.kappa))
            value += stats.invgamma.logpdf(cov, prior.df / 2, scale=prior.scale / 2)
        else:
            value += stats.multivariate_normal.logpdf(mean, prior.mean, cov / prior.kappa)
            value += stats.invwishart.logpdf(cov, prior.df, prior.scale)
    return value


@pytest.mark.parametrize("dims", [1, 2])
def test_map_em_maximises_the_stated_log_posterior(dims):
    if dims == 1:
        x = lecture_sample(300, 9)
        prior = em.MixturePrior(alpha=3.0, mean=5.0, kappa=0.5, df=5.0, scale=2.0)
    else:
        x = plane_sample(300, 9)
        prior = em.MixturePrior(alpha=3.0, mean=[1.0, 1.0], kappa=0.5, df=5.0,
                                scale=[[2.0, 0.3], [0.3, 1.0]])
    fit = em.fit_map_gmm(x, 3, prior, tol=1e-14)
    best = _scipy_log_posterior(x, fit, prior)
    assert fit.loglik_trace[-1] == pytest.approx(best, rel=1e-12)
    assert fit.loglik == pytest.approx(scipy_loglik(x, fit.weights, fit.means, fit.covariances),
                                       rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):  # every small move away from the fit lowers the log posterior
        logits = np.log(fit.weights) + 1e-3 * rng.normal(size=3)
        weights = np.exp(logits) / np.exp(logits).sum()
        means = fit.means + 1e-3 * rng.normal(size=fit.means.shape)
        if dims == 1:
            covs = fit.covariances * np.exp(1e-3 * rng.normal(size=3))
        else:
            lift = np.eye(2) + 1e-3 * rng.normal(size=(3, 2, 2))
            covs = lift @ fit.covariances @ lift.transpose(0, 2, 1)
        moved = em.MixtureFit(weights, means, covs, 0.0, np.zeros(1), 0, 1, True, np.zeros(1))
        assert _scipy_log_posterior(x, moved, prior) < best


def test_components_are_label_invariant():
    x = lecture_sample(1000, 10)
    start = ([0.3, 0.3, 0.4], [8.0, 1.0, 4.0], [1.0, 2.0, 3.0])
    swapped = ([0.4, 0.3, 0.3], [4.0, 8.0, 1.0], [3.0, 1.0, 2.0])
    a, b = em.fit_gmm(x, 3, init=start), em.fit_gmm(x, 3, init=swapped)
    assert np.all(np.diff(a.means) > 0)
    np.testing.assert_allclose(a.means, b.means, rtol=1e-10)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-10)
    np.testing.assert_allclose(a.sds, b.sds, rtol=1e-10)


@pytest.mark.parametrize("factor", [1e10, 1e-8])
def test_a_fit_in_other_units_is_the_same_fit_rescaled(factor):
    """Issue 23: EM is linear in the data's units (the log-likelihood moves by -n log factor)."""
    x = lecture_sample(2_000, 5)
    fit, scaled = em.fit_gmm(x, 3), em.fit_gmm(x * factor, 3)
    np.testing.assert_allclose(scaled.means, fit.means * factor, rtol=1e-6)
    np.testing.assert_allclose(scaled.sds, fit.sds * factor, rtol=1e-5)
    np.testing.assert_allclose(scaled.weights, fit.weights, atol=1e-6)
    assert scaled.loglik == pytest.approx(fit.loglik - x.size * np.log(factor), rel=1e-9)


def test_overflowing_distances_are_a_value_error():
    """Issue 23: one value of 1e300 among small ones overflowed k-means++'s squared distances
    into an IndexError; it is a ValueError saying what is wrong."""
    x = np.array([1e300, 1.0, 2.0, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="overflow"):
        em.fit_gmm(x, 2)
