"""mint: the lecture's grid and the exact quadrature against each other and against independent
Monte Carlo, the posterior against exact (two defaults, user data with K free), zoo sweep, the
report's plot and simulation-based calibration."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta as beta_dist

from zoo.cli import main
from zoo.core.errors import UsageError
from zoo.core.pipeline import run
from zoo.models.mint import (MODEL, FreeK, coin_counts, exact_k_sweep, exact_posterior,
                             free_k_from_mode_sd, grid_posterior, natural_key, parse_k,
                             posterior_draws)
from zoo.numerics.exact import beta_from_mode, lecture_grid

TWO_COINS = (np.array([3, 4]), np.array([15, 5]))
KRUSCHKE_K = free_k_from_mode_sd(1.0, 10.0)
FAST = ["--draws", "500", "--tune", "500", "--seed", "11", "--quiet"]


def literal_joint_grid(heads, flips, K, A, B, size):
    """The lecture's method written out: the full (omega, theta_1, theta_2) array, normalised."""
    points = lecture_grid(size)
    a, b = beta_from_mode(points, K)
    cond = beta_dist.pdf(points[None, :], a[:, None], b[:, None])         # [omega, theta]
    prior = beta_dist.pdf(points, A, B)[:, None, None] * cond[:, :, None] * cond[:, None, :]
    prior /= prior.sum()
    lik = [points**h * (1 - points) ** (n - h) for h, n in zip(heads, flips)]
    post = prior * lik[0][None, :, None] * lik[1][None, None, :]
    post /= post.sum()
    marginals = {"omega": post.sum(axis=(1, 2)), "theta[0]": post.sum(axis=(0, 2)),
                 "theta[1]": post.sum(axis=(0, 1))}
    out = {}
    for name, mass in marginals.items():
        mean = mass @ points
        out[f"{name}.mean"], out[f"{name}.sd"] = mean, np.sqrt(mass @ (points - mean) ** 2)
    return out


@pytest.mark.parametrize("K", [5.0, 75.0])
def test_grid_summed_coin_by_coin_is_the_literal_3d_grid(K):
    literal = literal_joint_grid(*TWO_COINS, K, 2.0, 2.0, 60)
    grid = grid_posterior(*TWO_COINS, K, 2.0, 2.0, 60)
    assert grid == pytest.approx(literal, abs=1e-12)


@pytest.mark.parametrize("heads, flips, tolerance", [
    (*TWO_COINS, 2e-6), ([7], [10], 2e-6),
    # coin 3 is all heads: with K = 5 the posterior density of theta_3 stays high at 1, where
    # the lecture's grid (no point beyond n/(n+1)) misses a sliver, so the error is O(h), not O(h^2)
    ([2, 9, 5], [10, 12, 5], 1e-4)])
@pytest.mark.parametrize("K", [5.0, 75.0, 200.0])
def test_grid_agrees_with_exact_to_discretisation_error(heads, flips, tolerance, K):
    exact = exact_posterior(heads, flips, K, 2.0, 2.0)
    grid = grid_posterior(heads, flips, K, 2.0, 2.0, 500)
    assert grid.keys() == exact.keys()
    assert grid == pytest.approx(exact, abs=tolerance)
    finer = grid_posterior(heads, flips, K, 2.0, 2.0, 1000)         # the error is discretisation
    assert max(abs(finer[k] - exact[k]) for k in exact) <= max(abs(grid[k] - exact[k]) for k in exact)
    coarse = grid_posterior(heads, flips, K, 2.0, 2.0, 8)          # the comparison can fail
    assert max(abs(coarse[k] - exact[k]) for k in exact) > 1e-4


@pytest.mark.parametrize("A, B", [(2.0, 5.0), (0.5, 0.5)])  # the second prior's density is infinite at 0 and 1
def test_exact_at_K_2_is_independent_uniform_coins(A, B):
    """K = 2 makes every theta_s Beta(1, 1) whatever omega: omega keeps its prior and each coin
    gets the conjugate Beta(1 + z, 1 + N - z) posterior."""
    heads, flips = [3, 4, 0], [15, 5, 2]
    exact = exact_posterior(heads, flips, 2.0, A, B)
    assert exact["omega.mean"] == pytest.approx(beta_dist.mean(A, B), abs=1e-9)
    assert exact["omega.sd"] == pytest.approx(beta_dist.std(A, B), abs=1e-9)
    for s, (h, n) in enumerate(zip(heads, flips)):
        assert exact[f"theta[{s}].mean"] == pytest.approx(beta_dist.mean(1 + h, 1 + n - h), abs=1e-9)
        assert exact[f"theta[{s}].sd"] == pytest.approx(beta_dist.std(1 + h, 1 + n - h), abs=1e-9)


def monte_carlo(heads, flips, K, A, B, draws=400_000, seed=5):
    """Likelihood-weighted draws from the prior: posterior means and sds with batch-mean SEs."""
    rng = np.random.default_rng(seed)
    omega = rng.beta(A, B, draws)
    kappa = 2 + rng.gamma(K.shape, 1 / K.rate, draws) if isinstance(K, FreeK) else np.full(draws, K)
    a, b = beta_from_mode(omega, kappa)
    theta = rng.beta(a[:, None], b[:, None], (draws, len(heads)))
    log_w = (np.asarray(heads) * np.log(theta) + (np.asarray(flips) - heads) * np.log1p(-theta)).sum(1)
    weights = np.exp(log_w - log_w.max())
    quantities = {"omega": omega, "kappa": kappa, **{f"theta[{s}]": theta[:, s]
                                                     for s in range(len(heads))}}
    estimates, errors = {}, {}
    for name, x in quantities.items():
        for stat in ("mean", "sd"):
            batches = [_weighted(x[i::20], weights[i::20], stat) for i in range(20)]
            estimates[f"{name}.{stat}"] = _weighted(x, weights, stat)
            errors[f"{name}.{stat}"] = np.std(batches, ddof=1) / np.sqrt(20)
    return estimates, errors


def _weighted(x, w, stat):
    mean = np.sum(w * x) / np.sum(w)
    return mean if stat == "mean" else np.sqrt(np.sum(w * (x - mean) ** 2) / np.sum(w))


@pytest.mark.parametrize("K, A, B", [(5.0, 2.0, 2.0), (75.0, 2.0, 2.0), (KRUSCHKE_K, 2.0, 2.0),
                                     (5.0, 0.5, 3.0)])
def test_exact_against_independent_monte_carlo(K, A, B):
    exact = exact_posterior(*TWO_COINS, K, A, B)
    estimates, errors = monte_carlo(*TWO_COINS, K, A, B)
    for name, value in exact.items():
        assert abs(estimates[name] - value) < 4.5 * errors[name], name


def test_reference_draws_under_a_prior_infinite_at_0_agree_with_exact():
    """A < 1: the grid behind the draws runs over omega's prior quantile, as the quadrature does."""
    exact = exact_posterior(*TWO_COINS, 5.0, 0.5, 3.0)
    draws = posterior_draws(*TWO_COINS, 5.0, 0.5, 3.0, (4, 20_000), np.random.default_rng(2))
    omega = draws["omega"].ravel()
    assert abs(omega.mean() - exact["omega.mean"]) < 4 * omega.std() / np.sqrt(omega.size)
    assert omega.std() == pytest.approx(exact["omega.sd"], rel=0.02)


def test_kruschke_gamma_has_mode_1_and_sd_10():
    shape, rate = KRUSCHKE_K
    assert (shape - 1) / rate == pytest.approx(1.0) and np.sqrt(shape) / rate == pytest.approx(10.0)
    assert parse_k("free") == KRUSCHKE_K and parse_k("75") == 75.0


@pytest.mark.parametrize("text", ["1.5", "abc", "free:1", "free:-1,2", "nan"])
def test_bad_K_setting(text):
    with pytest.raises(UsageError, match="K"):
        MODEL.parse_settings([f"K={text}"])


def test_coins_in_natural_label_order():
    frame = pd.DataFrame({"coin": ["c10", "c2", "c2", "c10", "c1"], "y": [1, 0, 1, 1, 0]})
    counts = coin_counts(frame)
    assert counts.labels == ["c1", "c2", "c10"]
    assert list(counts.heads) == [0, 1, 2] and list(counts.flips) == [1, 2, 2]
    assert sorted(["b", "a10", "a9"], key=natural_key) == ["a9", "a10", "b"]


def test_defaults_are_the_two_examples():
    for example, expected in [("two-coins", ([3, 4], [15, 5])), ("exercise1", ([7], [10]))]:
        counts = coin_counts(MODEL.default_data(MODEL.parse_settings([f"example={example}"])))
        assert (list(counts.heads), list(counts.flips)) == expected


@pytest.fixture(scope="module")
def user_csv(tmp_path_factory):
    rng = np.random.default_rng(3)
    rows = [(label, int(y)) for label, p, n in [("north", .3, 20), ("south", .6, 12), ("east", .45, 8)]
            for y in rng.random(n) < p]
    path = tmp_path_factory.mktemp("mint") / "coins.csv"
    pd.DataFrame(rows, columns=["coin", "y"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def results(fast_config, user_csv, example_run):
    return {
        "two-coins": example_run("mint"),
        "exercise1": run(MODEL, None, ["example=exercise1"], fast_config),
        "user, K free": run(MODEL, user_csv, ["K=free"], fast_config),
    }


@pytest.mark.parametrize("case", ["two-coins", "exercise1", "user, K free"])
def test_posterior_agrees_with_exact(results, case):
    result = results[case]
    assert result.diagnostics.divergences == 0
    assert result.diagnostics.converged, result.diagnostics.problems
    assert result.checks["passed"].all(), result.checks
    coins = coin_counts(result.data).labels
    expected = {"omega.mean", "omega.sd"} | {f"theta[{s}].{t}" for s in range(len(coins))
                                             for t in ("mean", "sd")}
    if case == "user, K free":
        expected |= {"kappa.mean", "kappa.sd"}
    assert set(result.checks["name"]) == expected


def test_sweep_cli_writes_table_and_plot(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "mint", "--over", "K=20,200", *FAST, "--out", str(out)]) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert sorted(table["K"].unique()) == [20, 200] and len(table) == 2 * 6
    assert (table["divergences"] == 0).all() and table["run_passed"].all()
    raw = table.dropna(subset="alternative: raw")  # each coin's own proportion, beside the grid
    assert set(raw["check"]) == {"theta[0].mean", "theta[1].mean"} and raw["alternative: raw"].nunique() == 2
    assert table["alternative: grid"].notna().all()
    means = table[table["check"].str.endswith(".mean")]
    assert (means["eti89_lb"] < means["estimate"]).all() and (means["estimate"] < means["eti89_ub"]).all()
    assert (out / "sweep.png").stat().st_size > 10_000
    assert "wall time" in capsys.readouterr().out


@pytest.mark.parametrize("over", ["K=5,free", "K=1,5", "Q=1,2", "K=", "K"])
def test_sweep_bad_over_exits_2_and_writes_nothing(tmp_path, capsys, over):
    out = tmp_path / "sweep"
    assert main(["sweep", "mint", "--over", over, *FAST, "--out", str(out)]) == 2
    assert not out.exists() and not list(tmp_path.iterdir())
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("text, message", [("coin,flip\na,1\n", "missing column 'y'"),
                                           ("coin,y\na,1\nb,yes\n", "line 3, column 'y'"),
                                           ("coin,y\na,2\n", "not 0 or 1")])
def test_bad_data_exits_2(rejects, text, message):
    rejects(["sweep", "mint", "--over", "K=5,20", "--data", "{csv}", *FAST, "--out", "{out}"],
            message, text)


@pytest.mark.parametrize("K", [5.0, 200.0, KRUSCHKE_K])
def test_exact_is_converged_to_1e_8(monkeypatch, K):
    """Tightening the cubature's tolerance a hundredfold moves no moment by more than 1e-8."""
    default = exact_posterior(*TWO_COINS, K, 2.0, 2.0)
    monkeypatch.setattr("zoo.models.mint.QUAD_RTOL", 1e-11)
    assert exact_posterior(*TWO_COINS, K, 2.0, 2.0) == pytest.approx(default, rel=0, abs=1e-8)


def test_sweep_plot_groups_checks_and_tolerates_missing_intervals():
    """Probabilities share a panel, other variables get their own; checks without a posterior
    interval (estimates such as an SMC log BF) are drawn as points; another method's answer
    is a line, named once in the legend of a panel where it has one."""
    from zoo.tools.sweep import ALTERNATIVE, plot

    rows = [{"kappa": k, "check": name, "reference": ref, "estimate": ref, "eti89_lb": lb,
             "eti89_ub": ub, ALTERNATIVE + "raw": raw} for k in (6.0, 202.0)
            for name, ref, lb, ub, raw in [("p[0]", 0.3, 0.1, 0.5, 0.25),
                                           ("p[0].sd", 0.1, np.nan, np.nan, np.nan),
                                           ("log_bf", -2.0, np.nan, np.nan, np.nan)]]
    figure = plot(pd.DataFrame(rows), "kappa", "test")
    assert len(figure.axes) == 2
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["reference", "raw",
                                                                              "p[0] (89 % ETI)"]
    assert [t.get_text() for t in figure.axes[1].get_legend().get_texts()] == [
        "reference", "log_bf (89 % ETI)"]


def test_exact_k_sweep_shrinks_every_coin_towards_omega():
    kappas = np.geomspace(5, 1000, 12)
    sweep = exact_k_sweep(*TWO_COINS, kappas, 2.0, 2.0)
    for s, raw in enumerate(TWO_COINS[0] / TWO_COINS[1]):
        gap = np.abs(sweep[f"theta[{s}].mean"] - sweep["omega.mean"])
        assert np.all(np.diff(gap) < 0), s  # stronger pooling as K grows
        assert abs(sweep[f"theta[{s}].mean"][0] - raw) < abs(sweep[f"theta[{s}].mean"][-1] - raw)
    assert gap[-1] < 0.01
    assert sweep["theta[1].mean"][3] == exact_posterior(*TWO_COINS, kappas[3], 2.0, 2.0)["theta[1].mean"]


@pytest.mark.parametrize("case, name", [("two-coins", "shrinkage"), ("user, K free", "kappa")])
def test_report_figure_is_written(results, tmp_path, case, name):
    [(caption, path)] = MODEL.figures(results[case], tmp_path)
    assert path == tmp_path / f"{name}.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "zoo sweep mint --over K=" in caption


def test_sbc_ranks_kappa_only_when_free_and_simulates_the_default_shape():
    rng = np.random.default_rng(0)
    for pairs, names in [([], ["omega", "theta"]), (["K=free"], ["omega", "theta", "kappa"])]:
        settings = MODEL.parse_settings(pairs)
        assert MODEL.calibration().parameters(settings) == names
        truth, observed = MODEL.calibration().simulate(None, settings, rng)
        assert set(truth) == set(names) and truth["theta"].shape == (2,)
        assert observed["y"].shape == (20,) and set(np.unique(observed["y"])) <= {0, 1}
