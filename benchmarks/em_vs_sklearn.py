"""Time zoo.numerics.em.fit_gmm against scikit-learn's GaussianMixture on the lecture's 1-D mixture.

    .venv/bin/python benchmarks/em_vs_sklearn.py [--n 10000 100000 1000000] [--repeats 3]
                                                 [--tol 1e-8] [--json PATH]

Data: the lecture's generative story (Lecture 14): weights 0.4, 0.2, 0.4; means 2, 5, 10;
sds 0.6, 0.8, 0.5; K = 3, one seeded sample per n.

Same start for both: equal weights, means at the data's 1/6, 1/2 and 5/6 quantiles, every
variance var(x) / 9. scikit-learn gets it as weights_init, means_init and precisions_init (with
all three given, ``init_params`` only costs time; "random_from_data" is its cheapest), and
``reg_covar=0`` so that both maximise the same likelihood.

Same stopping rule: zoo stops when ``|l_t - l_{t-1}| <= tol * |l_t|`` for the total
log-likelihood ``l``; scikit-learn when the mean log-likelihood changes by less than its ``tol``.
With ``tol_sklearn = tol * |l*| / n``, ``l*`` the optimum zoo reached, the two thresholds agree
to a relative O(tol). scikit-learn tests the log-likelihood of the parameters *before* its last
M-step and returns the parameters after it, so stopping at the same point it reports one
iteration more than zoo (whose ``n_iter`` counts the updates behind the parameters it returns).

Times are wall-clock, the best of ``--repeats`` runs, and include input checks; scikit-learn's
include its final E-step. The script does not touch thread or OPENBLAS_* settings (it prints
them); scikit-learn's matrix products may use every core, zoo's sweep uses one.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture

from zoo.numerics.em import MixtureFit, fit_gmm, gmm_loglik

WEIGHTS = np.array([0.4, 0.2, 0.4])
MEANS = np.array([2.0, 5.0, 10.0])
SDS = np.array([0.6, 0.8, 0.5])


def lecture_sample(n: int, seed: int) -> np.ndarray:
    """n draws from the lecture's three-component mixture."""
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=n, p=WEIGHTS)
    return rng.normal(MEANS[z], SDS[z])


def common_start(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal weights, quantile means, variances var(x)/9: a start both libraries accept."""
    return np.full(3, 1 / 3), np.quantile(x, [1 / 6, 1 / 2, 5 / 6]), np.full(3, x.var() / 9)


def best_time(run, repeats: int):
    """The result of ``run()`` and its fastest wall-clock time over ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return result, min(times)


def max_abs_difference(fit: MixtureFit, params: tuple[np.ndarray, ...]) -> float:
    """Largest absolute difference between a fit's weights, means, variances and ``params``."""
    ours = (fit.weights, fit.means, fit.covariances)
    return float(max(np.abs(a - b).max() for a, b in zip(ours, params, strict=True)))


def compare(n: int, tol: float, repeats: int, seed: int) -> dict:
    """Fit one sample with both libraries from the same start; times, optima, iterations."""
    x = lecture_sample(n, seed)
    start = common_start(x)
    zoo, zoo_seconds = best_time(
        lambda: fit_gmm(x, 3, init=start, tol=tol, max_iter=10_000), repeats)
    sk_tol = tol * abs(zoo.loglik) / n
    weights, means, variances = start
    model = GaussianMixture(
        n_components=3, covariance_type="full", tol=sk_tol, reg_covar=0.0, max_iter=10_000,
        n_init=1, init_params="random_from_data", random_state=0, weights_init=weights,
        means_init=means[:, None], precisions_init=(1 / variances)[:, None, None])
    column = x[:, None]
    sk, sk_seconds = best_time(lambda: model.fit(column), repeats)
    order = np.argsort(sk.means_[:, 0])
    sk_params = sk.weights_[order], sk.means_[order, 0], sk.covariances_[order, 0, 0]
    # Untimed check that both run the same iteration: zoo after as many updates as sklearn.
    same_steps = fit_gmm(x, 3, init=start, tol=0.0, max_iter=sk.n_iter_)
    return {
        "n": n,
        "zoo_seconds": zoo_seconds,
        "sklearn_seconds": sk_seconds,
        "speedup": sk_seconds / zoo_seconds,
        "zoo_loglik": zoo.loglik,
        "sklearn_loglik": float(sk.score_samples(column).sum()),
        "sklearn_loglik_by_zoo": gmm_loglik(x, *sk_params),
        "zoo_iterations": zoo.n_iter,
        "sklearn_iterations": int(sk.n_iter_),
        "both_converged": bool(zoo.converged and sk.converged_),
        "max_abs_parameter_difference": max_abs_difference(zoo, sk_params),
        "max_abs_parameter_difference_same_updates": max_abs_difference(same_steps, sk_params),
        "zoo_tol": tol,
        "sklearn_tol": sk_tol,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the comparison for each n, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the rows and settings here")
    args = parser.parse_args(argv)

    rows = [compare(n, args.tol, args.repeats, args.seed) for n in args.n]
    blas_env = {key: os.environ.get(key) for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                     "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, {os.cpu_count()} CPUs, "
          f"{blas_env}; best of {args.repeats}, zoo tol {args.tol:g} (relative)")
    print(f"{'n':>9} {'zoo s':>7} {'sklearn s':>9} {'ratio':>6} {'zoo loglik':>17} "
          f"{'sklearn loglik':>17} {'iters zoo/sk':>12} {'|dparam|':>9} {'same-steps':>10}")
    for r in rows:
        print(f"{r['n']:>9} {r['zoo_seconds']:>7.3f} {r['sklearn_seconds']:>9.3f} "
              f"{r['speedup']:>6.1f} {r['zoo_loglik']:>17.6f} {r['sklearn_loglik']:>17.6f} "
              f"{r['zoo_iterations']:>6}/{r['sklearn_iterations']:<5} "
              f"{r['max_abs_parameter_difference']:>9.1e} "
              f"{r['max_abs_parameter_difference_same_updates']:>10.1e}")
    print("|dparam|: largest weight/mean/variance difference where each stopped (sklearn took one "
          "more M-step); same-steps: zoo after sklearn's number of updates.")
    if args.json is not None:
        settings = {"repeats": args.repeats, "tol": args.tol, "seed": args.seed,
                    "numpy": np.__version__, "sklearn": sklearn.__version__,
                    "cpus": os.cpu_count(), "blas_env": blas_env}
        args.json.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
