"""``zoo bench``: the quick mode end to end (the JSON's shape, never its times), and the
aggregation, cache isolation, breakdown, scaling fits and target verdicts on their own."""

from __future__ import annotations

import importlib
import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO

import pytest


from zoo.cli import main
from zoo.report import site
from zoo.tools.bench import (command as bench, fixed as bench_fixed, runs as bench_runs,
                             scaling as bench_scaling)
from zoo.tools.sections import site_sections

ROW_KEYS = {"compile", "sampling", "ess_bulk_min", "gradients", "ess_per_second",
            "ess_per_gradient", "divergences", "stuck_chains", "loads"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[int, dict, dict, str]:
    """One ``zoo bench --quick --json`` run: exit status, what it printed, what it wrote, and
    its progress lines (stderr)."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    printed, progress = StringIO(), StringIO()
    with redirect_stdout(printed), redirect_stderr(progress):
        status = main(["bench", "--quick", "--json", "--out", str(out)])
    return status, json.loads(printed.getvalue()), json.loads(out.read_text()), progress.getvalue()


def test_quick_bench_prints_what_it_writes(quick):
    status, printed, written, _ = quick
    assert status == 0
    assert printed == written


def test_quick_bench_measures_both_sides_warm_at_equal_cores(quick):
    _, doc, _, progress = quick
    assert list(doc["models"]) == bench.QUICK_MODELS
    for model in doc["models"].values():
        for side in ("zoo", "baseline"):
            assert list(model[side]) == ["warm"]
            warm = model[side]["warm"]
            assert ROW_KEYS <= set(warm)
            assert warm["sampling"] > 0 and warm["gradients"] > 0
            assert warm["ess_per_gradient"] == pytest.approx(warm["ess_bulk_min"] / warm["gradients"])
            assert len(warm["loads"]) == 1
        assert set(model["ratio"]) == {"warm_compile", "warm_sampling", "warm_ess_per_second",
                                       "warm_ess_per_gradient"}
    assert doc["models"]["single-coin"]["baseline"]["warm"]["sampler"] == "nutpie"
    assert "cores 2" in progress and "(load " in progress
    assert doc["settings"]["zoo_cores"] == 2


def test_quick_bench_measures_the_fixed_cost_warm_from_the_command_and_in_a_session(quick):
    _, doc, _, progress = quick
    assert list(doc["fixed_cost"]) == bench.QUICK_MODELS
    lines = doc["fixed_cost"]["single-coin"]
    assert list(lines) == ["command_warm", "session_first", "session_again"]  # no cold: --quick
    for row in lines.values():
        assert 0 < row["fixed"] <= row["wall"] and len(row["loads"]) == 1
    assert "fixed cost single-coin, session, again" in progress
    assert "session, again: fixed s" in bench.table(doc)


def test_quick_bench_em_smc_and_targets(quick):
    _, doc, _, _ = quick
    assert [row["n"] for row in doc["em"]] == [10_000]
    assert doc["em"][0]["both_converged"]
    assert doc["smc"]["seeds"] == 2 and len(doc["smc"]["errors"]) == 2
    assert doc["seeds"] == {}  # quick mode runs no stuck-chain seeds
    assert doc["whole_zoo"] == {}
    assert set(doc["targets"]) == {"ess_per_gradient_at_least_baseline", "no_stuck_chains_over_seeds",
                                   "em_5x_sklearn", "smc_log_bf_error_at_most_0.03"}
    assert len(doc["settings"]["load_average_before"]) == 3


def test_quick_bench_says_what_ran_in_words(quick):
    """Issue 18: --quick printed raw dicts ('passed': False for two-factories, unexplained)
    and its JSON said "seeds": 10 when 2 ran."""
    _, doc, _, progress = quick
    assert doc["settings"]["seeds"] == 2 == doc["smc"]["seeds"]
    assert "{" not in progress and "'passed'" not in progress
    seed_lines = [line for line in progress.splitlines() if line.startswith("seed ")]
    assert len(seed_lines) == 2 and all("verify " in line and "SMC log BF error" in line
                                        for line in seed_lines)
    assert "nan" not in bench.table(doc)
    smc_note = next(n for n in bench.summary_notes(doc) if n.startswith("SMC log BF error"))
    assert f"two-factories verify passed {doc['smc']['verify_passed']}/2" in smc_note
    if doc["smc"]["verify_passed"] < 2:  # tiny draws: R-hat or ESS misses verify's bounds
        assert doc["smc"]["verify_problems"] and "too few" in smc_note


def test_baselines_ship_with_the_package():
    """Issue 14: from a wheel there is no checkout; the baselines are zoo.benchmarks."""
    for name in bench.with_baselines():
        module = importlib.import_module(f"zoo.benchmarks.baseline_{name.replace('-', '_')}")
        assert callable(module.fit)
    assert {"gmm", "rat-tumors", "single-coin", "two-factories", "mint"} <= set(bench.with_baselines())


def test_a_model_without_a_baseline_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(bench, "has_baseline", lambda name: name != "single-coin")
    assert main(["bench", "single-coin", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no baseline" in err


def test_without_the_benchmarks_package_bench_refuses(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "zoo.benchmarks" else real(name, *a))
    assert main(["bench", "--quick"]) == 2
    assert "zoo.benchmarks" in capsys.readouterr().err


def test_cold_runs_get_their_own_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float64")
    env = bench_runs.cache_env(tmp_path)
    assert env["PYTENSOR_FLAGS"] == f"floatX=float64,base_compiledir={tmp_path / 'pytensor'}"
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "numba")
    assert bench_runs.cache_env(None)["PYTENSOR_FLAGS"] == os.environ["PYTENSOR_FLAGS"]


def test_combine_takes_medians_with_spread_and_adds_counts():
    rows = [{"wall": w, "divergences": d, "stuck_chains": s, "passed": p, "sampler": "pymc"}
            for w, d, s, p in [(3.0, 0, 1, True), (1.0, 2, 0, True), (2.0, 0, 1, False)]]
    assert bench_runs.combine(rows) == {"wall": 2.0, "divergences": 2, "stuck_chains": 2,
                                        "passed": False, "sampler": "pymc",
                                        "spread": {"wall": [1.0, 3.0]}}


def test_ratios_are_zoo_over_baseline_at_equal_cores():
    zoo = {"warm": {"compile": 1.0, "sampling": 0.5, "ess_per_second": 300.0, "ess_per_gradient": 0.2}}
    base = {"warm": {"compile": 4.0, "sampling": 0.25, "ess_per_second": 100.0, "ess_per_gradient": 0.4}}
    slow = {"warm": {"compile": 9.0, "sampling": 9.0, "ess_per_second": 1.0, "ess_per_gradient": 0.1}}
    model = {"zoo": zoo, "baseline": base, "baseline_default_cores": slow}
    assert bench.ratios(model) == {"warm_compile": 0.25, "warm_sampling": 2.0,
                                   "warm_ess_per_second": 3.0, "warm_ess_per_gradient": 0.5}


def test_breakdown_adds_up_to_verify_wall():
    zoo = {"interpreter": 3.0, "imports": 1.0}
    verify = {"wall": 30.0, "density_check": 1.5, "reference": 5.0, "compile": 10.0,
              "sampling_total": 6.0, "diagnostics": 1.0}
    found = bench.breakdown(zoo, verify)
    assert found["interpreter_and_imports"] == 4.0 and found["cli_output_and_rest"] == 2.5
    assert sum(v for k, v in found.items() if k != "verify_wall") == pytest.approx(30.0)


def test_targets_can_fail():
    zoo = {"ess_per_gradient": 0.1, "spread": {"ess_per_gradient": [0.09, 0.11]}}
    base = {"ess_per_gradient": 0.2, "spread": {"ess_per_gradient": [0.18, 0.22]}}
    models = {"m": {"zoo": {"warm": zoo}, "baseline": {"warm": base}}}
    verify = {"cold": {"wall": 40.5, "loads": [5.0]}, "warm": {"wall": 11.5, "loads": [5.0]}}
    whole = {"rows": {"verify_jobs_2": verify},
             "ratio": {"verify_jobs_2/baseline/cold": 0.5, "verify_jobs_2/baseline/warm": 0.3}}
    seeds = {"m": [{"stuck_chains": 0}, {"stuck_chains": 1}]}
    em = [{"n": 10, "speedup": 6.0, "zoo_loglik": -100.0, "sklearn_loglik_by_zoo": -100.1}]
    verdict = bench.targets(models, whole, seeds, em, {"max_abs_error": 0.05})
    assert not verdict["verify_all_cold_at_most_0.35x_baselines"]["met"]
    assert verdict["verify_all_warm_at_most_0.35x_baselines"]["met"]
    assert not verdict["verify_all_warm_at_most_10_s"]["met"]
    assert not verdict["verify_all_cold_at_most_20_s"]["met"]
    assert verdict["verify_all_warm_at_most_12_s"]["met"]  # issue 26's bounds beside 17's
    assert not verdict["verify_all_cold_at_most_40_s"]["met"]
    assert not verdict["ess_per_gradient_at_least_baseline"]["m"]["met"]
    assert not verdict["no_stuck_chains_over_seeds"]["m"]["met"]
    assert not verdict["em_5x_sklearn"][0]["met"]  # fast, but not at the same optimum
    assert not verdict["smc_log_bf_error_at_most_0.03"]["met"]
    overlapping = {"ess_per_gradient": 0.19, "spread": {"ess_per_gradient": [0.17, 0.21]}}
    close = bench.ess_per_gradient_verdict(overlapping, base)
    assert not close["met"] and close["within_noise"] and close["value"] < 1  # met means met


def test_the_fixed_cost_is_the_wall_time_beyond_the_work_and_its_targets_can_fail():
    seconds = {"sampling_total": 0.2, "reference": 0.05, "diagnostics": 0.05, "total": 9.0}
    assert bench_fixed.work(seconds) == pytest.approx(0.3)
    row = {"wall": 6.0, "fixed": 5.7, "loads": [1.0]}
    fixed = {"single-coin": {"command_warm": row,
                             "session_again": {"wall": 0.4, "fixed": 0.1, "loads": [1.2]}}}
    verdicts = bench_fixed.fixed_targets(fixed)
    assert verdicts["single-coin_command_warm_at_most_5_s"]["met"] is False
    assert verdicts["single-coin_verify_again_in_session_at_most_0.5_s"]["met"] is True
    rows = bench_fixed.fixed_rows({"fixed_cost": fixed})
    assert rows[0][1:3] == ["command, warm: fixed s [min-max] (of wall s)",
                            "session, again: fixed s [min-max] (of wall s)"]
    assert rows[1] == ["single-coin", "5.70 (of 6.00)", "0.10 (of 0.40)", "1.0; 1.2"]
    assert bench_fixed.fixed_targets({"gmm": {"command_warm": row}}) == {}


def test_a_failing_process_is_one_error():
    with pytest.raises(bench_runs.RunFailed, match="failed \\(3\\)"):
        bench_runs.timed_process([sys.executable, "-c", "import sys; sys.exit(3)"], dict(os.environ))


def test_a_traceback_is_not_a_failed_check():
    """Python exits 1 on an uncaught exception, as ``zoo verify`` does on a failed check."""
    with pytest.raises(bench_runs.RunFailed, match="failed \\(1\\).*boom"):
        bench_runs.timed_process([sys.executable, "-c", "raise SystemExit('boom')"], dict(os.environ))


def test_a_process_past_its_cap_is_capped():
    with pytest.raises(bench_runs.Capped, match="cap of 0 s"):
        bench_runs.timed_process([sys.executable, "-c", "import time; time.sleep(30)"],
                                 dict(os.environ), timeout=0.2)


def test_unknown_model_is_a_usage_error(capsys):
    assert main(["bench", "no-such-model", "--quick"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_report_index_shows_the_bench(quick, tmp_path):
    _, doc, _, _ = quick
    assert site_sections(tmp_path) == []
    bench.write_json(doc, tmp_path / "bench.json")
    section, fixed = site_sections(tmp_path)
    assert section["rows"][0][0] == "model" and section["rows"][1][0] == "single-coin"
    assert any(note.startswith("EM n=10000") for note in section["notes"])
    assert fixed["title"].startswith("Fixed cost per model") and fixed["rows"][1][0] == "single-coin"
    page = site.index_markdown([], {"command": "zoo report", "date": "today"}, [section, fixed])
    assert "## Benchmark (zoo / baseline, equal cores)" in page and "| single-coin |" in page
    assert "## Fixed cost per model" in page


def scaling_doc() -> dict:
    """A scaling document as run_scaling writes it: sampling time ~ n, a capped baseline."""
    def fit(n: float) -> dict:
        return {"wall": 1 + n / 1e3, "load": 2.0, "compile": 1.0, "sampling": n / 1e3,
                "reference": 0.1, "ess_per_second": 4e6 / n, "ess_per_gradient": 0.2,
                "r_hat_max": 1.0, "stuck_chains": 0, "divergences": 0, "passed": True}

    gmm = [{"n": n, "zoo": fit(n), "baseline": fit(10 * n) if n < 1e5 else {"capped": 60.0, "load": 3.0}}
           for n in (1_000, 10_000, 100_000)]
    rats = [{"experiments": j, "zoo": fit(j), "baseline": fit(j)} for j in (71, 710)]
    sbc = [{"run": r, "wall": w, "load": 2.0, "sims": 60, "sims_per_second": 60 / w,
            "speedup": 20 / w, "efficiency": 1.0} for r, w in (("1 local job", 20.0), ("2 local jobs", 12.0))]
    doc = {"settings": {"when": "today", "baseline_cap_seconds": 60.0}, "gmm": gmm,
           "gmm_exponents": bench_scaling.exponents(gmm, "n"), "rat_tumors": rats,
           "rat_tumors_exponents": bench_scaling.exponents(rats, "experiments"), "sbc": sbc}
    doc["targets"] = bench_scaling.scaling_targets(doc)
    return doc


def test_scaling_fits_the_growth_exponent_and_shows_caps(tmp_path):
    doc = scaling_doc()
    assert doc["gmm_exponents"]["zoo_sampling"] == pytest.approx(1.0)
    assert doc["gmm_exponents"]["baseline_sampling"] == pytest.approx(1.0)  # capped size left out
    assert doc["targets"]["gmm_n_1e+05_within_30_s"] == {"value": 101.0, "met": False, "load": 2.0}
    assert not doc["targets"]["sbc_2_workers_at_least_1.8x"]["2 local jobs"]["met"]
    assert "capped at 60 s" in bench_scaling.scaling_table(doc)
    bench.write_json(doc, tmp_path / "bench-scaling.json")
    (section,) = site_sections(tmp_path)
    assert section["images"][0]["src"].startswith("data:image/png;base64,")
