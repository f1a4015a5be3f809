"""zoo power: injected faults are caught by verify, a correct model is not, the quick mode runs
end to end through the CLI, reruns resume, and bad input is refused."""

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special

from zoo.cli import main
from zoo.core import reference_cache
from zoo.core.faults import Fault, faulty_model
from zoo.core.pipeline import run
from zoo.core.registry import all_models, get_model
from zoo.models import gmm, missing_data
from zoo.models.single_coin import SingleCoin
from zoo.tools import power
from zoo.tools.sections import site_sections

POWER_PAGE = Path(__file__).parents[1] / "docs" / "power.md"
COMMITTED = Path(__file__).parents[1] / "benchmarks" / "results" / "power.json"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``zoo power --quick --json`` once, into a folder of its own."""
    out = tmp_path_factory.mktemp("power") / "quick"
    status, document = _power(["--quick", "--jobs", "2", "--out", str(out), "--json"])
    return out, status, document


def _power(args, progress: list | None = None):
    """``zoo power ARGS``: its exit status and JSON document; its progress lines (stderr) are
    added to ``progress``."""
    import contextlib
    import io

    buffer, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(errors):
        status = main(["power", *args])
    if progress is not None:
        progress += errors.getvalue().splitlines()
    return status, json.loads(buffer.getvalue())


@pytest.mark.parametrize("model, fault", [("single-coin", "flat-prior"), ("mint", "drop-last"),
                                          ("single-coin", "no-jacobian")])
def test_an_injected_fault_is_caught_by_verify(model, fault, fast_config):
    faulty = faulty_model(model, fault)
    result = run(faulty, config=fast_config)
    assert not result.passed
    assert not result.checks["passed"].all()
    # the reference stays the correct model's
    correct = get_model(model)
    settings = correct.parse_settings()
    assert result.reference.values == correct.reference(correct.default_data(settings), settings).values


def test_the_correct_model_is_not_flagged(fast_config):
    assert run(get_model("single-coin"), config=fast_config).passed


def test_every_model_has_five_faults_and_each_builds():
    for name, model in all_models().items():
        classes = model.faults()
        assert len(classes) >= 5, name
        for cls in classes:
            faulty = cls()
            settings = faulty.parse_settings()
            model = faulty.build(faulty.default_data(settings), settings)
            # a fault adds terms, changes settings, or builds on other data (flips-plus-one)
            assert model.potentials or faulty.changes or type(faulty).build is not Fault.build


def _quadrature_mean(density, lower=0.0, upper=1.0, points=None):
    """The mean of an unnormalised density on (lower, upper), by scipy's adaptive quadrature."""
    mass = integrate.quad(density, lower, upper, points=points, limit=200)[0]
    return integrate.quad(lambda x: x * density(x), lower, upper, points=points, limit=200)[0] / mass


def test_a_faults_exact_answer_is_the_faulty_posterior():
    """Tempered single-coin, computed apart from the fault: the triangular prior times the
    likelihood to the power 0.9, integrated numerically."""
    coin = faulty_model("single-coin", "tempered-0.9")
    settings = coin.parse_settings()
    data = coin.default_data(settings)
    values = coin.faulty_reference(data, settings)
    heads = int(data["y"].sum())
    tails = len(data) - heads

    def density(theta):
        return min(theta, 1 - theta) * (theta**heads * (1 - theta) ** tails) ** 0.9

    assert values["theta.mean"] == pytest.approx(_quadrature_mean(density, points=[0.5]), rel=1e-6)
    assert faulty_model("mint", "no-jacobian").faulty_reference(None, {}) is None


def test_a_shared_helper_fault_moves_the_reference_by_its_exact_effect():
    """mint with beta_from_mode's shapes swapped: the reference moves with the fit (both call
    the helper), to omega's posterior mean under swapped shapes, integrated numerically."""
    faulty = faulty_model("mint", "beta-shapes-swapped")
    settings = faulty.parse_settings()
    data = faulty.default_data(settings)
    counts = data.groupby("coin")["y"].agg(["sum", "count"])
    heads, flips = counts["sum"].to_numpy(), counts["count"].to_numpy()
    K, A, B = settings["K"], settings["A"], settings["B"]

    def density(omega):
        b, a = omega * (K - 2) + 1, (1 - omega) * (K - 2) + 1  # the swap
        return np.exp((A - 1) * np.log(omega) + (B - 1) * np.log1p(-omega)
                      + np.sum(special.betaln(a + heads, b + flips - heads) - special.betaln(a, b)))

    moved = faulty.faulty_reference(data, settings)["omega.mean"]
    assert moved == pytest.approx(_quadrature_mean(density), rel=1e-5)
    correct = get_model("mint").reference(data, settings).values
    assert abs(moved - correct["omega.mean"]) > 0.3 * correct["omega.sd"]
    assert faulty.reference(data, settings).values["omega.mean"] == moved


def test_sbc_simulates_from_the_correct_model():
    coin = faulty_model("single-coin", "flat-prior")
    settings = coin.parse_settings()
    plan = coin.calibration()
    fitted = plan.pymc_model(settings)
    assert "beta" in str(fitted["theta"].owner.op).lower()  # the fault: Beta(1, 1) is fitted
    truth, _ = plan.simulate(fitted, settings, np.random.default_rng(0))
    draws = [plan.simulate(fitted, settings, np.random.default_rng(i))[0]["theta"]
             for i in range(400)]
    assert 0 < truth["theta"] < 1 and np.std(draws) < 0.25  # triangular: sd 0.20; flat: 0.29


def test_quick_runs_end_to_end_and_writes_its_json(quick):
    out, status, document = quick
    assert status == 0
    assert json.loads((out / "summary.json").read_text())["models"] == document["models"]
    assert set(document["models"]) == {"single-coin", "two-factories"}
    kinds = {"single-coin": "quadrature", "two-factories": "exact"}  # the coin's triangular prior
    for name, model in document["models"].items():
        assert model["false_alarm_seeds"] == 2
        assert model["reference_kind"] == kinds[name] and model["reference_per_seed"] == "same answer"
        assert model["false_alarm_rate"] == model["false_alarms"] / 2
        for fault in model["faults"].values():
            assert fault["seeds"] == 2 and fault["sbc"]["simulations"] == 10
    flat = document["models"]["single-coin"]["faults"]["flat-prior"]
    assert flat["verify_caught"] == 2 and flat["caught_by"]["moment checks"] == 2
    assert flat["how"] == "exact" and flat["errors"] == 0 and len(flat["per_seed"]) == 2
    assert len(document["targets"]) == 3
    assert document["code"]["keys"]["single-coin/flat-prior"] == power.code_of("single-coin", "flat-prior")
    # p_factory[1] = 1 - p_factory[0] is no second check; p_factory's bias is in its exact sd
    detectable = document["models"]["two-factories"]["detectable"]
    assert "p_factory[1]" not in detectable and detectable["p_factory[0]"]["in_sd"]


def test_a_rerun_skips_stored_units(quick):
    out, _, first = quick
    stamp = (out / "single-coin" / "correct" / "verify" / "seed-0000.json").stat().st_mtime_ns
    progress = []
    status, again = _power(["--quick", "--out", str(out), "--json", "--quiet"], progress)
    assert status == 0 and again["computed"] == 0 and progress == []
    assert again["models"] == first["models"]
    assert (out / "single-coin" / "correct" / "verify" / "seed-0000.json").stat().st_mtime_ns == stamp


def test_a_stored_unit_made_by_other_code_is_computed_again(quick):
    out, _, first = quick
    stored = [out / "single-coin" / "correct" / "verify" / "seed-0000.json",
              out / "single-coin" / "flat-prior" / "effect.json"]
    for path in stored:
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "code": "made by other code"}))
    progress = []
    status, again = _power(["--quick", "--out", str(out), "--json"], progress)
    assert status == 0 and again["computed"] == 2
    assert [line.split(" (")[0] for line in progress] == ["unit 1/2", "unit 2/2"]
    assert all(json.loads(p.read_text())["code"] == power.code_of("single-coin", c)
               for p, c in zip(stored, ["correct", "flat-prior"]))
    assert again["models"] == first["models"]  # same seeds, same numbers


class BrokenCoin(Fault, SingleCoin):
    """A fault whose own code raises."""

    fault = "broken"
    description = "a bug in the fault's injection"

    def inject(self, model, data, settings):
        raise RuntimeError("the fault's own bug")


def test_a_fault_whose_code_raises_is_an_error_not_a_catch(monkeypatch, tmp_path):
    faults = SingleCoin.faults
    monkeypatch.setattr(SingleCoin, "faults", lambda self: [*faults(self), BrokenCoin])
    config = replace(power.QUICK, sbc=replace(power.QUICK.sbc, sims=1))
    plan = power.Plan(["single-coin"], {"single-coin": ["broken"]}, seeds=2, false_alarm_seeds=1)
    summary = power.run_power(plan, config, tmp_path / "out")
    broken = summary["models"]["single-coin"]["faults"]["broken"]
    assert broken["verify_caught"] == 0 and broken["errors"] == 2 and broken["seeds"] == 2
    assert broken["error_messages"] == ["RuntimeError: the fault's own bug"]
    assert broken["how"] == "error" and broken["target"] == "n/a"
    assert broken["sbc"]["errors"] == 1 and broken["sbc"]["simulations"] == 0
    assert "0/2" in power.console(summary)


@pytest.mark.parametrize("record, caught_by", [
    ({"density_passed": False, "checks_passed": True, "converged": True}, ["log density"]),
    ({"checks_passed": True, "converged": True}, []),  # no density check: not run, no catch
    ({"density_passed": True, "checks_passed": False, "converged": True}, ["moment checks"]),
    ({"density_passed": None, "checks_passed": True, "converged": False}, ["diagnostics"]),
    ({"density_passed": False, "checks_passed": False, "converged": False}, list(power.CATCHERS)),
])
def test_each_seed_says_which_check_caught_it(record, caught_by):
    outcome = power.seed_outcome({"seed": 1, "checks": [], **record})
    assert outcome["caught_by"] == caught_by
    assert power.tally([outcome])["verify_caught"] == bool(caught_by)


def _false_alarm_reference(model: str, index: int):
    """False-alarm run ``index`` of ``model``: its model, the reference it is judged against
    (through the cache, as verify reads it) and that reference's cache key."""
    unit = power.unit_model(power.Unit("verify", model, power.CORRECT, index))
    settings = unit.parse_settings()
    data = unit.default_data(settings)
    found, _ = reference_cache.reference(unit, data, settings)
    return unit, found, reference_cache.cache_key(unit, data, settings)


def test_each_false_alarm_run_of_a_random_reference_draws_its_own():
    """missing-data's exact draws: verify's reference, false-alarm runs 0 and 1 each at a seed
    of its own, under a cache key of its own; the registry's model keeps verify's seed."""
    default = get_model("missing-data")
    settings = default.parse_settings()
    data = default.default_data(settings)
    runs = [(default, reference_cache.reference(default, data, settings)[0],
             reference_cache.cache_key(default, data, settings)),
            *(_false_alarm_reference("missing-data", i) for i in (0, 1))]
    assert len({model.reference_seed for model, _, _ in runs}) == 3
    assert len({key for _, _, key in runs}) == 3
    assert len({reference.values["rho.mean"] for _, reference, _ in runs}) == 3
    assert all(f"seed {model.reference_seed})" in reference.notes[0] for model, reference, _ in runs)
    assert "reference_seed" not in vars(get_model("missing-data"))
    assert get_model("missing-data").reference_seed == missing_data.REFERENCE_SEED


def test_gmms_importance_sampling_draws_at_the_false_alarm_runs_seed(monkeypatch):
    seeds = []

    def stop(target, draws, seed):
        seeds.append(seed)
        raise InterruptedError  # the mode search and draws are not needed to see the seed

    monkeypatch.setattr(gmm, "posterior_moments", stop)
    for index in (None, 0, 1):
        model = get_model("gmm") if index is None else power.unit_model(
            power.Unit("verify", "gmm", power.CORRECT, index))
        settings = model.parse_settings()
        with pytest.raises(InterruptedError):
            model.reference(model.default_data(settings), settings)
    first = power.FALSE_ALARM_REFERENCE_SEED
    assert seeds == [gmm.REFERENCE_SEED, first, first + 1] and gmm.REFERENCE_SEED != first


def test_an_exact_references_false_alarm_runs_share_its_answer():
    (model, first, key), (_, second, other_key) = (_false_alarm_reference("single-coin", i)
                                                   for i in (0, 1))
    assert model is get_model("single-coin") and model.reference_seed is None
    assert first.values == second.values and key == other_key


@pytest.mark.parametrize("records, how", [
    ([{"reference_kind": "importance sampling", "reference_seed": s} for s in (1000, 1001)], "own draw"),
    ([{"reference_kind": "exact draws", "reference_seed": 0}] * 2, "shared draw"),
    ([{"reference_kind": "exact draws", "reference_seed": None}] * 2, "shared draw"),
    ([{"reference_kind": "grid", "reference_seed": None}] * 2, "same answer"),
    ([{"reference_kind": "EM fallback", "reference_seed": 1000}], "same answer"),
    ([], None),
])
def test_the_summary_says_whether_false_alarm_runs_had_references_of_their_own(records, how):
    assert power.false_alarm_reference(records)["reference_per_seed"] == how


def test_the_false_alarm_rate_comes_with_its_upper_bound():
    assert power.false_alarm_rate(0, 20) == {"false_alarm_rate": 0.0,
                                             "false_alarm_rate_upper": pytest.approx(1 - 0.05 ** (1 / 20))}
    assert power.false_alarm_rate(1, 20)["false_alarm_rate_upper"] == pytest.approx(0.2161, abs=1e-4)
    assert power.false_alarm_rate(0, 0)["false_alarm_rate"] is None


def test_no_model_named_means_every_registered_model():
    args = power.argparse.Namespace(models=[], all=False, seeds=1, false_alarm_seeds=1, sims=1,
                                    jobs=1, quick=False, results=None)
    plan, _ = power.plan_from(args)
    assert plan.models == list(all_models())
    assert plan.faults["missing-data"] and plan.faults["mint"]


def test_the_docs_power_table_is_generated_from_the_committed_results():
    summary = json.loads(COMMITTED.read_text())
    found = re.search(r"<!-- power-table -->\n(.*?)\n<!-- /power-table -->", POWER_PAGE.read_text(),
                      re.S)
    assert found, "docs/power.md has no generated power table"
    assert found.group(1) == power.readme_table(summary)
    assert summary["code"]["git_commit"] and summary["code"]["keys"]


def test_a_folder_of_another_configuration_is_refused(quick, capsys):
    out, _, _ = quick
    assert main(["power", "single-coin", "--out", str(out)]) == 2
    assert "another sampler" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["power", "no-such-model", "--out", "{out}"], "unknown model"),
    (["power", "single-coin", "--seeds", "0", "--out", "{out}"], "--seeds must be at least 1"),
    (["power", "--sims", "x", "--out", "{out}"], "invalid int value"),
    (["power", "single-coin", "--all", "--out", "{out}"], "models or --all, not both"),
    (["power", "single-coin", "--results", "{csv}", "--out", "{out}"], "not a zoo power summary"),
    (["power", "single-coin", "--results", "{csv}/inside.json", "--out", "{out}"], "cannot write in"),
])
def test_bad_input_is_exit_2(rejects, args, message):
    rejects(args, message, csv_text="x\n1\n")  # --results names a file zoo power did not write


def test_report_index_shows_the_power_table(quick, tmp_path):
    from zoo.report import site

    out, _, document = quick
    (tmp_path / "power").mkdir()
    (tmp_path / "power" / "summary.json").write_text((out / "summary.json").read_text())
    (section,) = site_sections(tmp_path)
    assert section["rows"][0][:2] == ["model", "fault"] and len(section["rows"]) > 3
    assert any(note.startswith("single-coin: 0 false alarms") for note in section["notes"])
    page = site.index_markdown([], {"command": "zoo report", "date": "today"}, [section])
    assert "## Power of the checks" in page and "flat-prior" in page
