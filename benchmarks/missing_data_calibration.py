"""``missing-data``: are its checks calibrated, and which imputation samples better?

    .venv/bin/python benchmarks/missing_data_calibration.py [--seeds 20] [--share 0.8]
                                                            [--data CSV] [--only-calibration]

1. Calibration: ``zoo verify missing-data``'s fit (nutpie, 4 chains x 1000 draws, verify's
   tuning) on the example (or ``--data``) for seeds 1..N, each check's z against the exact reference: mean,
   sd and max |z| per check, and how many |z| exceed 3 and 4. A calibrated z has mean ~0 and
   sd ~1.
2. Imputation: the model's explicit non-centred latent (x2_lost = line + sqrt(s22.1) z) against
   PyMC's automatic imputation (x2 observed with NaN: each lost value a centred latent with
   scale sqrt(s22.1)), same prior, on the example with ``--share`` lost: divergences, the
   smallest bulk ESS over the parameters and the lost values, and that per second of sampling.
3. A fault: complete-case analysis (the rows that lost x2 dropped, their x1 with them), fitted
   by ``zoo verify``'s pipeline against the correct exact reference at ``--share`` lost: each
   check's z, and the exact shift of each posterior mean in the correct posterior's sds.

This is a measurement script, not a test. Measured 2026-11-30 on the shared 2-CPU machine
(load ~9), seeds 1-20, share 0.8 for parts 2 and 3:

1. Over 200 checks: z mean +0.02, sd 1.07, one |z| > 3 (rho.mean 3.38, seed 1), none > 4.
   Per check the sd of z lies between 0.61 (mu[1].sd) and 1.41 (rho.mean; rho.sd 1.32): with
   20 seeds an sd is known to about +-0.16, so rho's MCSE may be ~1.3x optimistic at 4 x 1000
   draws. At 4 x 20,000 draws (two seeds) every |z| was below 1.7: no bias. On a user's file
   (120 points of Normal2((-3, 10), sds 2 and 3, rho -0.4), 72 x2 lost; tests/test_missing_data.py
   writes it), seeds 1-30: z mean +0.19, sd 1.09 over 300 checks, none above 3; per check sd
   0.80 to 1.30 (sigma[0].sd), rho.sd 1.22 (mean +0.52: the 200,000-draw reference of rho.sd
   sits 1.2-1.6 of its own errors below a 2,000,000-draw one, an offset every seed shares).
   Seed 20261125 (verify's default) gave rho.sd z -3.62 there; at 4 x 20,000 draws +0.50, +2.14.
2. Non-centred (the zoo's): 0 divergences, 7.0 leapfrog steps per draw, smallest bulk ESS
   4336-5951, 2408-5741 per second of sampling. Automatic (centred): 0 divergences, 7.5-7.9
   steps, smallest bulk ESS 446-654, 579-703 per second: 4-9 times fewer effective draws per
   second, the lost values' own ESS the smallest.
3. Complete-case fault (seed 20261130, the default): at 0.5 lost the exact posterior mean of
   mu[0] moves +1.27 posterior sds (its sd x1.18), sigma[0] -1.51, mu[1] +0.74, and verify's z
   are mu[0].mean +71, sigma[0].mean -85, mu[1].mean +44, rho.mean -29; at 0.8 lost mu[0]
   moves +2.57 sds (sd x1.68), sigma[0] -2.39, z mu[0].mean +89, mu[0].sd +20.
"""

from __future__ import annotations

import argparse

import numpy as np

from zoo.benchmarks.baseline_missing_data import automatic_imputation
from zoo.core.compare import compare
from zoo.core.diagnostics import diagnose
from zoo.core.pipeline import run
from zoo.core.results import Fit
from zoo.core.sampling import SamplerConfig, sample_nuts, sampling_time
from zoo.models.missing_data import (MODEL, MissingData, closed_form_moments, default_prior,
                                     exact_posterior)


def calibration(seeds: int, path: str | None = None) -> None:
    data = MODEL.load(path, MODEL.parse_settings())
    reference = MODEL.reference(data, {})
    model = MODEL.build(data, {})
    zs = []
    for seed in range(1, seeds + 1):
        idata = sample_nuts(model, SamplerConfig(seed=seed, progressbar=False),
                            nuts_sampler="nutpie")
        checks = compare(Fit(idata), reference)
        zs.append(checks["z"].to_numpy())
        print(f"seed {seed}: worst |z| {np.abs(zs[-1]).max():.2f}", flush=True)
    zs = np.array(zs)
    print(f"\n{'check':<14} {'mean z':>7} {'sd z':>6} {'max |z|':>8}")
    for name, column in zip(checks["name"], zs.T):
        print(f"{name:<14} {column.mean():+7.2f} {column.std(ddof=1):6.2f} {np.abs(column).max():8.2f}")
    print(f"all checks: mean {zs.mean():+.2f}, sd {zs.std(ddof=1):.2f}; |z| > 3: "
          f"{(np.abs(zs) > 3).sum()}, |z| > 4: {(np.abs(zs) > 4).sum()} of {zs.size}")


def imputation(share: float, seeds: int) -> None:
    data = MODEL.default_data(MODEL.parse_settings([f"missing={share}"]))
    print(f"\n{int(data['x2'].isna().sum())} of {len(data)} x2 lost")
    for label, model, lost in (("non-centred (zoo)", MODEL.build(data, {}), "x2_lost_noise"),
                               ("automatic (centred)", automatic_imputation(data), "x2_unobserved")):
        for seed in range(1, seeds + 1):
            idata = sample_nuts(model, SamplerConfig(seed=seed, progressbar=False),
                                nuts_sampler="nutpie")
            names = ["mean_x1", "var_x1", "line_level", "line_slope", "var_x2_given_x1", lost]
            diag = diagnose(idata, names)
            seconds = sampling_time(idata)
            print(f"{label:<20} seed {seed}: divergences {diag.divergences}, min bulk ESS "
                  f"{diag.ess_bulk_min:.0f}, per second {diag.ess_bulk_min / seconds:.0f}, "
                  f"steps per draw {float(idata.sample_stats['n_steps'].mean()):.1f}", flush=True)


class CompleteCase(MissingData):
    """The fault: the rows that lost x2 are dropped before the model is built."""

    def build(self, data, settings):
        return super().build(data.dropna(), settings)


def fault(share: float) -> None:
    pairs = [f"missing={share}"]
    result = run(CompleteCase(), set_pairs=pairs, config=SamplerConfig(progressbar=False))
    print(f"\ncomplete-case fault at {share:g} lost: " + ", ".join(
        f"{check.name} z {check.z:+.1f}" for check in result.checks.itertuples()))
    data = result.data
    good = closed_form_moments(exact_posterior(data, default_prior(data)))
    complete = data.dropna()
    bad = closed_form_moments(exact_posterior(complete, default_prior(complete)))
    print("exact shift of the posterior mean in posterior sds: " + ", ".join(
        f"{q} {(bad[f'{q}.mean'] - good[f'{q}.mean']) / good[f'{q}.sd']:+.2f}"
        for q in ("mu[0]", "mu[1]", "sigma[0]")) + f"; mu[0]'s sd x{bad['mu[0].sd'] / good['mu[0].sd']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--share", type=float, default=0.8)
    parser.add_argument("--data", help="a CSV for the calibration (default: the example)")
    parser.add_argument("--only-calibration", action="store_true")
    args = parser.parse_args()
    calibration(args.seeds, args.data)
    if args.only_calibration:
        return
    imputation(args.share, max(1, args.seeds // 5))
    fault(args.share)


if __name__ == "__main__":
    main()
