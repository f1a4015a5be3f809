"""zoo power: injected faults are caught by verify, a correct model is not, the quick mode runs
end to end through the CLI, reruns resume, and bad input is refused."""

import json

import numpy as np
import pytest

from zoo.models.single_coin import exact_posterior
from zoo.cli import main
from zoo.faults import FAULTS, Fault, faulty_model
from zoo.pipeline import run
from zoo.registry import get_model


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``zoo power --quick --json`` once, into a folder of its own."""
    out = tmp_path_factory.mktemp("power") / "quick"
    status, document = _power(["--quick", "--jobs", "2", "--out", str(out), "--json"])
    return out, status, document


def _power(args):
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(["power", *args])
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
    for model, classes in FAULTS.items():
        assert len(classes) >= 5, model
        for cls in classes:
            faulty = cls()
            settings = faulty.parse_settings()
            model = faulty.build(faulty.default_data(settings), settings)
            # a fault adds terms, changes settings, or builds on other data (flips-plus-one)
            assert model.potentials or faulty.changes or type(faulty).build is not Fault.build


def test_a_faults_exact_answer_is_the_faulty_posterior():
    coin = faulty_model("single-coin", "tempered-0.9")
    settings = coin.parse_settings()
    values = coin.faulty_reference(coin.default_data(settings), settings)
    expected = exact_posterior(0.9 * 3, 0.9 * 9, settings["prior"])
    assert np.isclose(values["theta.mean"], expected["mean"])
    assert faulty_model("mint", "no-jacobian").faulty_reference(None, {}) is None


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
    for model in document["models"].values():
        assert model["false_alarm_seeds"] == 2
        for fault in model["faults"].values():
            assert fault["seeds"] == 2 and fault["sbc"]["simulations"] == 10
    assert document["models"]["single-coin"]["faults"]["flat-prior"]["verify_caught"] == 2
    assert len(document["targets"]) == 3
    # p_factory[1] = 1 - p_factory[0] is no second check; p_factory's bias is in its exact sd
    detectable = document["models"]["two-factories"]["detectable"]
    assert "p_factory[1]" not in detectable and detectable["p_factory[0]"]["in_sd"]


def test_a_rerun_skips_stored_units(quick):
    out, _, first = quick
    stamp = (out / "single-coin" / "correct" / "verify" / "seed-0000.json").stat().st_mtime_ns
    status, again = _power(["--quick", "--out", str(out), "--json"])
    assert status == 0 and again["computed"] == 0
    assert again["models"] == first["models"]
    assert (out / "single-coin" / "correct" / "verify" / "seed-0000.json").stat().st_mtime_ns == stamp


def test_a_folder_of_another_configuration_is_refused(quick, capsys):
    out, _, _ = quick
    assert main(["power", "single-coin", "--out", str(out)]) == 2
    assert "another sampler" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["power", "no-such-model", "--out", "{out}"], "unknown model"),
    (["power", "single-coin", "--seeds", "0", "--out", "{out}"], "--seeds must be at least 1"),
    (["power", "--sims", "x", "--out", "{out}"], "invalid int value"),
])
def test_bad_input_is_exit_2(rejects, args, message):
    rejects(args, message)


def test_report_index_shows_the_power_table(quick, tmp_path):
    from zoo import site

    out, _, document = quick
    (tmp_path / "power").mkdir()
    (tmp_path / "power" / "summary.json").write_text((out / "summary.json").read_text())
    (section,) = site.zoo_sections(tmp_path)
    assert section["rows"][0][:2] == ["model", "fault"] and len(section["rows"]) > 3
    assert any(note.startswith("single-coin: 0 false alarms") for note in section["notes"])
    page = site.index_markdown([], {"command": "zoo report", "date": "today"}, [section])
    assert "## Power of the checks" in page and "flat-prior" in page
