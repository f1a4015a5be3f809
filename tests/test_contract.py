"""Every registered model against the contract (models/README.md): it builds, its reference is
finite, its run gives a complete JSON document, bad input is refused in one line, and a tiny
SBC runs and passes. Each model's own test file tests what only that model does."""

import json
import math

import pymc as pm
import pytest

from zoo.compare import parse_check
from zoo.model import Calibration
from zoo.registry import all_models
from zoo.results import REFERENCE_KINDS
from zoo.sbc import SbcConfig, run_sbc

MODELS = sorted(all_models())
#: a small SBC per model (the per-model files used to carry a copy each)
TINY_SBC = SbcConfig(sims=16, seed=3, draws=200, tune=200, chains=2)
CHECK_KEYS = {"name", "reference", "estimate", "mcse", "z", "passed", "reference_error",
              "derived_from"}


@pytest.mark.parametrize("name", MODELS)
def test_builds_on_its_example(name):
    model = all_models()[name]
    settings = model.parse_settings()
    built = model.build(model.default_data(settings), settings)
    assert isinstance(built, pm.Model) and built.free_RVs and built.observed_RVs
    assert model.title and model.columns and model.formula and model.summary


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
    assert {"config", "checks", "alternatives", "diagnostics", "notes", "seconds", "reference_source",
            "reference_kind", "weaker_check", "passed"} <= set(document)
    assert document["reference_kind"] == example_run(name).reference.kind
    assert document["checks"] and all(set(c) == CHECK_KEYS for c in document["checks"])
    assert {"r_hat_max", "ess_bulk_min", "divergences", "converged"} <= set(document["diagnostics"])
    assert document["config"]["seed"] == example_run(name).config.seed and document["config"]["versions"]


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
