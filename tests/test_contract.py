"""Every registered model against the contract (models/README.md): it builds, its reference is
finite, its run gives a complete JSON document, its independent log posterior agrees with its
PyMC model's (on its example and on user data, a third party's model too) and disagrees with a
slightly wrong likelihood, bad input is refused in one line, and a tiny SBC runs and passes. Each model's own test file
tests what only that model does."""

import json
import math
import pickle

import numpy as np
import pymc as pm
import pytest

from zoo.core.calibration import Calibration
from zoo.core.compare import parse_check
from zoo.core.density_check import MIN_FINITE_POINTS, density_check
from zoo.core.faults import Fault, Reweighted
from zoo.core.posteriordb_code import PosteriordbCode
from zoo.core.registry import all_models
from zoo.core.results import REFERENCE_KINDS
from zoo.tools.sbc import SbcConfig, run_sbc

MODELS = sorted(all_models())
#: a small SBC per model (the per-model files used to carry a copy each)
TINY_SBC = SbcConfig(sims=16, seed=3, draws=200, tune=200, chains=2)
CHECK_KEYS = {"name", "reference", "estimate", "mcse", "z", "passed", "reference_error",
              "derived_from"}
DENSITY_CHECK_KEYS = {"passed", "max_deviation", "tolerance", "points", "seconds"}


@pytest.mark.parametrize("name", MODELS)
def test_builds_on_its_example(name):
    model = all_models()[name]
    settings = model.parse_settings()
    built = model.build(model.default_data(settings), settings)
    assert isinstance(built, pm.Model) and built.free_RVs and built.observed_RVs
    assert model.title and model.columns and model.formula and model.summary


@pytest.mark.parametrize("name", MODELS)
def test_the_hooks_the_tools_call_answer_as_declared(name):
    """faults(), posteriordb_code() and scaling_data(size): what zoo power, posteriordb export
    and bench --scaling take from a model instead of naming it (issue 27 item 2)."""
    model = all_models()[name]
    for fault in model.faults():
        assert issubclass(fault, Fault) and issubclass(fault, type(model)) and fault.fault, fault
        assert fault().name == f"{name}+{fault.fault}"
    code = model.posteriordb_code()
    assert code is None or isinstance(code, PosteriordbCode)
    data = model.scaling_data(20)
    if data is not None:
        assert list(data.columns) == [c.name for c in model.columns] and len(data) == 20
        assert data.equals(model.scaling_data(20))  # the same size, the same data


@pytest.mark.parametrize("name", MODELS)
def test_reference_is_finite_and_named_as_checks(name):
    model = all_models()[name]
    settings = model.parse_settings()
    reference = model.reference(model.default_data(settings), settings)
    assert reference.values
    assert reference.kind in REFERENCE_KINDS and reference.kind != "unstated"
    for check, value in reference.values.items():
        parse_check(check)  # raises on a name the comparison cannot read
        assert math.isfinite(value), check
        assert math.isfinite(reference.errors.get(check, 0.0)) and reference.errors.get(check, 0.0) >= 0


@pytest.mark.parametrize("name", MODELS)
def test_run_gives_a_complete_json_document(name, example_run):
    document = json.loads(example_run(name).to_json())
    assert document["model"] == name
    assert {"config", "checks", "alternatives", "diagnostics", "density_check", "notes", "seconds",
            "reference_source", "reference_kind", "weaker_check", "passed"} <= set(document)
    assert set(document["density_check"]) == DENSITY_CHECK_KEYS and document["density_check"]["passed"]
    assert document["reference_kind"] == example_run(name).reference.kind
    assert document["checks"] and all(set(c) == CHECK_KEYS for c in document["checks"])
    assert {"r_hat_max", "ess_bulk_min", "divergences", "converged"} <= set(document["diagnostics"])
    assert document["config"]["seed"] == example_run(name).config.seed and document["config"]["versions"]
    assert document["passed"], f"{name} fails verify on its own example at 500 draws"


def test_a_third_party_model_passes_verify_on_its_example(toy_model):
    """A model from another package is held to what the zoo's own are held to above: it
    passes verify on its own example at 500 draws (issue 27 item 2)."""
    from conftest import FAST
    from zoo.core.pipeline import run

    result = run(all_models()[toy_model], config=FAST)
    assert result.passed and result.checks["passed"].all() and result.density_check.passed


def test_a_run_builds_its_model_once_and_the_fit_keeps_it(monkeypatch):
    """Issue 27: the model was built for the log-density check and again for the fit. Now the
    run builds it once, checks and samples that one, and the fit keeps it; a fit sent from
    another process (--jobs) drops it, and the result builds it again there."""
    from conftest import FAST
    from zoo.core.pipeline import run

    model = all_models()["single-coin"]
    built, build = [], type(model).build
    monkeypatch.setattr(type(model), "build", lambda self, data, settings: built.append(
        build(self, data, settings)) or built[-1])
    result = run(model, config=FAST)
    assert len(built) == 1 and result.fit.model is built[0] and result.pymc_model() is built[0]
    sent = pickle.loads(pickle.dumps(result))
    assert sent.fit.model is None and isinstance(sent.pymc_model(), pm.Model) and len(built) == 2
    assert sent.pymc_model() is sent.pymc_model() and len(built) == 2  # built again once


#: the zoo's models and the toy package's (registered by the toy_model fixture)
WITH_THIRD_PARTY = [*MODELS, "poisson-rate"]

#: per model: a CSV of the user's and settings other than the defaults
USER_DATA = {
    "single-coin": ("y\n1\n0\n1\n1\n0\n1\n", ["prior=beta:2,3"]),
    "two-factories": ("y\n1\n1\n0\n1\n", ["kappa=20", "omega=0.3,0.6", "prior=0.3,0.7"]),
    "mint": ("coin,y\nc10,1\nc10,0\nc2,1\nc2,1\nc2,0\nb,0\nb,1\n", ["K=free", "param=centred"]),
    "rat-tumors": ("tumors,rats\n0,20\n2,19\n4,25\n1,10\n5,30\n3,14\n", ["compare_pooling=yes"]),
    "gmm": ("value\n" + "\n".join(f"{v:.6f}" for v in np.r_[np.linspace(-2, 2, 30),
                                                           np.linspace(4, 7, 30)]) + "\n",
            ["components=2", "column=value", "mu_prior=normal:2,5", "w_prior=dirichlet:1.5"]),
    "missing-data": ("x1,x2\n" + "\n".join(f"{a:.3f},{'' if i % 3 == 0 else f'{0.5 * a + np.sin(i):.3f}'}"
                                           for i, a in enumerate(np.linspace(-1, 2, 15))) + "\n", []),
    "poisson-rate": ("count\n0\n2\n7\n1\n", ["shape=3"]),
}


def check_of(model, data_path=None, pairs=None):
    settings = model.parse_settings(pairs, user_data=data_path is not None)
    data = model.load(data_path, settings)
    return density_check(model, data, settings, model.build(data, settings))


class SlightlyTempered(Reweighted):
    """Every observed row's log-likelihood times 1.001: far too small a change for any moment
    check to see, and for the density check a change at every point."""

    weight, rows = 1.001, "all"
    fault, description = "tempered-1.001", "every row's log-likelihood times 1.001"


@pytest.mark.parametrize("name", WITH_THIRD_PARTY)
def test_log_density_agrees_on_the_example_and_not_with_a_slightly_wrong_likelihood(name, toy_model):
    model = all_models()[name]
    correct = check_of(model)
    assert correct.passed, correct.notes
    assert correct.points >= MIN_FINITE_POINTS and 0 <= correct.max_deviation <= correct.tolerance
    faulty = check_of(type(f"Tempered{type(model).__name__}", (SlightlyTempered, type(model)), {})())
    assert not faulty.passed and faulty.max_deviation > 100 * faulty.tolerance
    assert any("disagree" in note for note in faulty.notes)


@pytest.mark.parametrize("name", WITH_THIRD_PARTY)
def test_log_density_agrees_on_user_data_and_settings(name, toy_model, tmp_path):
    text, pairs = USER_DATA[name]
    csv = tmp_path / "data.csv"
    csv.write_text(text)
    check = check_of(all_models()[name], csv, pairs)
    assert check.passed, check.notes


@pytest.mark.parametrize("name", MODELS)
def test_bad_input_is_one_line_exit_2(name, rejects):
    column = all_models()[name].columns[0].name
    rejects(["verify", name, "--data", "{csv}"], f"missing column {column!r}",
            csv_text="not_a_column\n1\n")
    rejects(["run", name, "--set", "no_such_setting=1", "--out", "{out}"], "no setting")


@pytest.mark.parametrize("name", MODELS)
def test_tiny_sbc_passes(name, tmp_path):
    model = all_models()[name]
    assert isinstance(model.calibration(), Calibration)
    summary = run_sbc(model, TINY_SBC, tmp_path)
    assert summary["simulations"] == TINY_SBC.sims and summary["parameters"]
    assert summary["passed"], {k: p["p_value"] for k, p in summary["parameters"].items()}
    assert (tmp_path / "summary.json").is_file()
