"""``zoo bench``: the quick mode end to end (the JSON's shape, never its times), and the
aggregation, cache isolation and target verdicts on their own."""

from __future__ import annotations

import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

from zoo import bench, site
from zoo.cli import main
from zoo.errors import ZooError
from zoo.registry import all_models

ROW_KEYS = {"wall", "compile", "sampling", "ess_per_second", "divergences", "stuck_chains"}


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


def test_quick_bench_measures_both_sides_warm(quick):
    _, doc, _, _ = quick
    assert list(doc["models"]) == bench.QUICK_MODELS
    for model in doc["models"].values():
        for side in ("zoo", "baseline"):
            assert list(model[side]) == ["warm"]
            assert ROW_KEYS <= set(model[side]["warm"])
            assert model[side]["warm"]["sampling"] > 0
        assert {"warm_wall", "warm_compile", "warm_sampling", "warm_ess_per_second"} == set(model["ratio"])
    assert doc["models"]["single-coin"]["baseline"]["warm"]["sampler"] == "nutpie"


def test_quick_bench_em_smc_and_targets(quick):
    _, doc, _, _ = quick
    assert [row["n"] for row in doc["em"]] == [10_000]
    assert doc["em"][0]["both_converged"]
    assert doc["smc"]["seeds"] == 2 and len(doc["smc"]["errors"]) == 2
    assert doc["seeds"] == {}  # quick mode runs no stuck-chain seeds
    assert set(doc["targets"]) == {"ess_per_second_at_least_baseline", "no_stuck_chains_over_seeds",
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
    assert "nan" not in bench.table(doc)  # cold runs: '-', not measured in --quick
    smc_note = next(n for n in bench.summary_notes(doc) if n.startswith("SMC log BF error"))
    assert f"two-factories verify passed {doc['smc']['verify_passed']}/2" in smc_note
    if doc["smc"]["verify_passed"] < 2:  # tiny draws: R-hat or ESS misses verify's bounds
        assert doc["smc"]["verify_problems"] and "too few" in smc_note


def test_every_model_has_a_baseline_script():
    for name in all_models():
        assert Path(bench.baseline_command(name, [])[1]).is_file(), name


def test_cold_runs_get_their_own_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float64")
    env = bench.cache_env(tmp_path)
    assert env["PYTENSOR_FLAGS"] == f"floatX=float64,base_compiledir={tmp_path / 'pytensor'}"
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "numba")
    assert bench.cache_env(None)["PYTENSOR_FLAGS"] == os.environ["PYTENSOR_FLAGS"]


def test_combine_takes_medians_and_adds_counts():
    rows = [{"wall": w, "divergences": d, "stuck_chains": s, "passed": p, "sampler": "pymc"}
            for w, d, s, p in [(3.0, 0, 1, True), (1.0, 2, 0, True), (2.0, 0, 1, False)]]
    assert bench.combine(rows) == {"wall": 2.0, "divergences": 2, "stuck_chains": 2,
                                   "passed": False, "sampler": "pymc"}


def test_ratios_are_zoo_over_baseline():
    zoo = {"warm": {"wall": 2.0, "compile": 1.0, "sampling": 0.5, "ess_per_second": 300.0}}
    base = {"warm": {"wall": 8.0, "compile": 4.0, "sampling": 0.25, "ess_per_second": 100.0}}
    assert bench.ratios(zoo, base) == {"warm_wall": 0.25, "warm_compile": 0.25,
                                       "warm_sampling": 2.0, "warm_ess_per_second": 3.0}


def test_targets_can_fail():
    models = {"m": {"ratio": {"warm_ess_per_second": 0.9}}}
    whole = {"ratio_cold": 0.6}
    seeds = {"m": [{"stuck_chains": 0}, {"stuck_chains": 1}]}
    em = [{"n": 10, "speedup": 6.0, "zoo_loglik": -100.0, "sklearn_loglik_by_zoo": -100.1}]
    verdict = bench.targets(models, whole, seeds, em, {"max_abs_error": 0.05})
    assert not verdict["verify_all_cold_at_most_half"]["met"]
    assert not verdict["ess_per_second_at_least_baseline"]["m"]["met"]
    assert not verdict["no_stuck_chains_over_seeds"]["m"]["met"]
    assert not verdict["em_5x_sklearn"][0]["met"]  # fast, but not at the same optimum
    assert not verdict["smc_log_bf_error_at_most_0.03"]["met"]


def test_a_failing_process_is_one_error():
    with pytest.raises(ZooError, match="failed \\(3\\)"):
        bench.timed_process([sys.executable, "-c", "import sys; sys.exit(3)"], dict(os.environ))


def test_unknown_model_is_a_usage_error(capsys):
    assert main(["bench", "no-such-model", "--quick"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_report_index_shows_the_bench(quick, tmp_path):
    _, doc, _, _ = quick
    assert site.zoo_sections(tmp_path) == []
    bench.write_json(doc, tmp_path / "bench.json")
    (section,) = site.zoo_sections(tmp_path)
    assert section["rows"][0][0] == "model" and section["rows"][1][0] == "single-coin"
    assert any(note.startswith("EM n=10000") for note in section["notes"])
    page = site.index_markdown([], {"command": "zoo report", "date": "today"}, [section])
    assert "## Benchmark (zoo / baseline)" in page and "| single-coin |" in page


def test_a_traceback_is_not_a_failed_check():
    """Python exits 1 on an uncaught exception, as ``zoo verify`` does on a failed check."""
    with pytest.raises(ZooError, match="failed \\(1\\).*boom"):
        bench.timed_process([sys.executable, "-c", "raise SystemExit('boom')"], dict(os.environ))
