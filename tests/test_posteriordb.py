"""posteriordb both ways: the definition's diagnostics against posteriordb's own, the mapping
and its refusals, verify on a Rate posterior and on low_dim_gauss_mix, and every model exported
and read back with posteriordb's own Python client (``posteriordb`` 0.2.0 on PyPI), its exact
reference draws checked by the definition and against the zoo's reference moments."""

import json
import shutil
import zipfile
from pathlib import Path

import arviz as az
import numpy as np
import pytest
import xarray as xr
from posteriordb import PosteriorDatabase

from zoo.cli import main
from zoo.core.compare import parse_check, scalar_of, z_bound, z_score
from zoo.core.registry import all_models
from zoo.tools.posteriordb import definition, layout
from zoo.tools.posteriordb.export import CHAINS, DRAWS, names, variable_size
from zoo.tools.posteriordb.verify import reference_checks, verify

DB = Path(__file__).parent / "fixtures" / "posteriordb"
MIXTURE = "low_dim_gauss_mix-low_dim_gauss_mix"


# --- the definition, on posteriordb's own reference draws -------------------------------------


@pytest.fixture(scope="module")
def mixture_draws():
    root = layout.database_root(DB)
    return layout.reference_draws(root, layout.posterior_info(root, MIXTURE))


def test_diagnostics_reproduce_posteriordbs_info_file(mixture_draws):
    """ESS (bulk, tail), R-hat and lag-1 autocorrelation by ArviZ from the 10 chains are the
    numbers posteriordb recorded (R's posterior package), so its checks mean the same here."""
    root = layout.database_root(DB)
    theirs = layout.read_json(root / layout.DRAWS / "info" / f"{MIXTURE}.info.json")["diagnostics"]
    ours = definition.diagnostics(mixture_draws)
    assert ours["diagnostic_information"] == theirs["diagnostic_information"]
    for key in ("effective_sample_size_bulk", "effective_sample_size_tail", "r_hat", "mean_lag1_ac"):
        assert ours[key] == pytest.approx(theirs[key], rel=1e-6), key
    assert all(definition.checks(ours).values())
    mean = layout.read_json(root / layout.SUMMARIES / "mean_value" / "mean_value" / f"{MIXTURE}.json")
    found = definition.summary_statistics(mixture_draws)["mean_value"]
    assert found["mcse_mean"] == pytest.approx(mean["mcse_mean"], rel=1e-6)


def test_checks_fail_on_correlated_or_short_draws(mixture_draws):
    x = mixture_draws["theta"]
    sticky = {"theta": np.repeat(x[:, ::2], 2, axis=1)}  # each draw twice: lag-1 ac ~0.5
    checks = definition.checks(definition.diagnostics(sticky))
    assert not checks["abs_mean_lag1_ac_below_0_05"] and not checks["ess_within_bounds"]
    short = definition.checks(definition.diagnostics({"theta": x[:3, :500]}))
    assert not short["ndraws_is_10k"] and not short["nchains_is_gte_4"]


def test_reference_checks_use_the_mapping_and_can_fail(mixture_draws):
    """posteriordb's draws as the 'posterior' under the zoo's names (theta is w[0]): z = 0;
    the means moved by 0.01 (a quarter of a posterior sd, 12 to 17 combined MCSEs) fail."""
    theta = mixture_draws["theta"]
    posterior = xr.Dataset({
        "mu": (("chain", "draw", "c"), np.stack([mixture_draws["mu[1]"], mixture_draws["mu[2]"]], -1)),
        "sigma": (("chain", "draw", "c"), np.stack([mixture_draws["sigma[1]"],
                                                    mixture_draws["sigma[2]"]], -1)),
        "w": (("chain", "draw", "c"), np.stack([theta, 1 - theta], -1)),
    })
    parameters = {"mu[1]": "mu[0]", "mu[2]": "mu[1]", "sigma[1]": "sigma[0]",
                  "sigma[2]": "sigma[1]", "theta": "w[0]"}
    same = reference_checks(xr.DataTree.from_dict({"posterior": posterior}), mixture_draws, parameters)
    assert len(same) == 10 and same["passed"].all() and (same["z"].abs() < 1e-9).all()
    moved = posterior.assign(mu=posterior["mu"] + 0.01)
    checks = reference_checks(xr.DataTree.from_dict({"posterior": moved}), mixture_draws,
                              parameters).set_index("name")
    assert not checks.loc[["mu[1].mean", "mu[2].mean"], "passed"].any()


# --- the command line: list and refusals -----------------------------------------------------


def test_list_says_which_posteriors_map(capsys):
    assert main(["posteriordb", "list", "--db", str(DB)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert len(lines) == 7
    for rate in range(1, 6):
        assert "single-coin" in lines[f"Rate_{rate}_data-Rate_{rate}_model"] or rate == 2
    assert "mint --set K=2" in lines["Rate_2_data-Rate_2_model"]
    assert "not checked: thetaprior, postpredk, priorpredk" in lines["Rate_4_data-Rate_4_model"]
    assert "gmm --set components=2" in lines[MIXTURE]
    assert " no: no zoo model has its likelihood" in lines["eight_schools-eight_schools_noncentered"]


@pytest.fixture
def changed_db(tmp_path):
    """The fixture db with Rate_1's prior changed to Beta(2, 2)."""
    db = tmp_path / "db"
    shutil.copytree(DB, db)
    stan = db / "posterior_database" / "models" / "stan" / "Rate_1_model.stan"
    stan.write_text(stan.read_text().replace("beta(1, 1)", "beta(2, 2)"))
    return db


@pytest.mark.parametrize("args, message", [
    (["verify", "Rate_9"], "unknown posterior 'Rate_9' in the db"),
    (["verify", "eight_schools_noncentered"], "does not map to a zoo model: no zoo model has"),
    (["verify", "Rate_1", "--db", "{out}"], "not a posteriordb"),
    (["verify", "Rate_1", "--set", "prior=beta:2,2"], "takes no --data or --set"),
    (["export", "no-such-model", "--out", "{out}"], "unknown model 'no-such-model'"),
    (["export", "--out", "{out}"], "export takes a MODEL or --all"),
    (["export", "single-coin", "--seed", "-1", "--out", "{out}"], "must be between 0 and"),
])
def test_refusals(rejects, args, message):
    db = [] if "--db" in args or args[0] == "export" else ["--db", str(DB)]
    rejects(["posteriordb", *args, *db], message)


def test_a_changed_stan_model_is_refused(rejects, changed_db):
    rejects(["posteriordb", "verify", "Rate_1", "--db", str(changed_db)],
            "does not map to single-coin any more: its Stan code lacks 'theta~beta(1,1);'")


def test_a_broken_db_file_is_one_line(rejects, changed_db):
    data = changed_db / "posterior_database" / "data" / "data" / "Rate_3_data.json.zip"
    data.write_text("not a zip")
    rejects(["posteriordb", "verify", "Rate_3", "--db", str(changed_db)],
            "Rate_3_data.json.zip: not a zipped JSON file")


def test_export_writes_nothing_when_a_check_fails_or_writing_breaks(tmp_path, monkeypatch, capsys):
    """All or nothing: a reference failing the definition's checks, or an error halfway through
    writing, leaves no --out and no staging folder."""
    from zoo.tools.posteriordb import export

    out = tmp_path / "db"
    monkeypatch.setattr(export.definition, "checks", lambda found: {"ndraws_is_10k": False})
    assert main(["posteriordb", "export", "single-coin", "--out", str(out)]) == 1
    assert "nothing written" in capsys.readouterr().out
    monkeypatch.undo()

    def broken(path, value):
        raise OSError("disk full")

    monkeypatch.setattr(export.layout, "write_zipped_json", broken)
    with pytest.raises(OSError):
        export.export([all_models()["single-coin"]], out, seed=1)
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_draws(tmp_path):
    """Two exports with one seed write the same bytes of reference draws (a fixed zip time)."""
    from zoo.tools.posteriordb.export import export

    model = all_models()["single-coin"]
    for out in ("a", "b"):
        export([model], tmp_path / out, seed=7)
    draws = f"posterior_database/{layout.DRAWS}/draws/{names(model)[0]}.json.zip"
    assert (tmp_path / "a" / draws).read_bytes() == (tmp_path / "b" / draws).read_bytes()


def test_export_describes_the_model_by_its_summary_not_its_docstring(tmp_path):
    """The module docstring is for the model's maintainers (issue 27.5); what the export
    publishes as the model's description is its user-facing ``summary``."""
    from zoo.tools.posteriordb.export import export

    model = all_models()["single-coin"]
    export([model], tmp_path / "db", seed=1)
    info = tmp_path / "db" / "posterior_database" / "models" / "info" / f"{names(model)[1]}.info.json"
    assert json.loads(info.read_text())["description"] == model.summary
    [draws_info] = (tmp_path / "db").rglob("reference_posteriors/draws/info/*.json")
    sampler = json.loads(draws_info.read_text())["inference"]["method_arguments"]["sampler"]
    assert sampler.endswith("SingleCoin.reference_draws") and "posterior" not in sampler, sampler


def test_export_refuses_a_folder_with_files(tmp_path, capsys):
    out = tmp_path / "db"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["posteriordb", "export", "single-coin", "--out", str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


# --- verify --------------------------------------------------------------------------------


def test_verify_rate_checks_the_zoo_reference_and_says_posteriordb_has_none(capsys):
    code = main(["posteriordb", "verify", "Rate_1", "--db", str(DB), "--json", "--draws", "500",
                 "--tune", "500", "--seed", "1234", "--quiet"])
    found = json.loads(capsys.readouterr().out)
    assert code == 0 and found["passed"], found
    assert found["zoo_model"] == "single-coin" and found["settings"] == ["prior=flat"]
    assert found["posteriordb_checks"] is None
    assert "no reference draws" in found["notes"][0]
    # Rate_1: 5 of 10 under Beta(1, 1) is Beta(6, 6)
    checks = {c["name"]: c for c in found["zoo"]["checks"]}
    assert checks["theta.mean"]["reference"] == pytest.approx(0.5)
    assert checks["theta.sd"]["reference"] == pytest.approx(np.sqrt(36 / (144 * 13)))


def test_verify_low_dim_gauss_mix_passes_both_references(fast_config):
    found = verify("low_dim_gauss_mix", DB, fast_config)
    assert found.result.model.name == "gmm" and found.result.reference.method == "psis"
    assert list(found.checks["name"]) == [f"{p}.{s}" for p in ("mu[1]", "mu[2]", "sigma[1]",
                                                               "sigma[2]", "theta")
                                          for s in ("mean", "mean_square")]
    assert found.passed, (found.checks, found.result.checks, found.result.diagnostics.problems)
    assert "match posteriordb's mean_value file" in found.notes[-1]


def test_verify_reads_back_a_zoo_export(tmp_path, fast_config):
    """The round trip: single-coin exported, then verified from the export (the model and
    settings its info records, NUTS against its exact reference draws and its own reference)."""
    from zoo.tools.posteriordb.export import export

    export([all_models()["single-coin"]], tmp_path / "db", seed=3)
    found = verify("single_coin", tmp_path / "db", fast_config)
    assert found.prepared.mapping.settings == ["prior=triangular", "grid=500"]
    assert list(found.checks["name"]) == ["theta.mean", "theta.mean_square"]
    assert found.passed, (found.checks, found.result.checks)


# --- export and read back ------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "zoo-db"
    assert main(["posteriordb", "export", "--all", "--out", str(out)]) == 0
    return out


def test_every_model_exports_and_posteriordbs_client_reads_it(exported):
    client = PosteriorDatabase(str(exported / "posterior_database"))
    models = all_models()
    assert sorted(client.posterior_names()) == sorted(names(m)[0] for m in models.values())
    for model in models.values():
        posterior = client.posterior(names(model)[0])
        data = posterior.data.values()
        assert data["N"] == len(model.default_data(model.parse_settings()))
        script = posterior.model.code("pymc")
        assert "def model(data):" in script
        if model.name in ("single-coin", "two-factories", "mint", "rat-tumors"):
            assert "model {" in posterior.model.code("stan")
        if posterior.posterior_info["reference_posterior_name"] is None:
            assert model.name == "gmm" and "no exact sampler" in posterior.posterior_info["comments"]
            continue
        chains = posterior.reference_draws()
        info = posterior.reference_draws_info()
        assert len(chains) == CHAINS and all(len(v) == DRAWS for v in chains[0].values())
        assert set(chains[0]) == set(info["diagnostics"]["diagnostic_information"]["names"])
        dims = posterior.posterior_info["dimensions"]
        assert sum(dims.values()) == len(chains[0]), (dims, list(chains[0]))
        assert all(info["checks_made"].values()) and info["inference"]["method"] == "analytical"


def test_pymc_scripts_build_the_models_variables(exported):
    """Each self-contained script, run on its own data JSON, defines the variables its
    reference draws name, with their sizes (no compiling: the scripts are read, built and
    their variables counted)."""
    root = exported / "posterior_database"
    for path in sorted((root / "posteriors").glob("*.json")):
        info = layout.read_json(path)
        code = layout.model_code(root, info["model_name"], "pymc")
        if "from zoo" in code:  # a model without a script of its own builds the zoo's
            continue
        namespace = {}
        exec(compile(code, path.name, "exec"), namespace)
        built = namespace["model"](layout.data_values(root, info["data_name"]))
        for name, size in info["dimensions"].items():
            assert variable_size(built, name) == size, (path.name, name)


def test_exported_draws_agree_with_the_zoos_reference(exported):
    """Read back from the zipped file: each reference mean and sd of the zoo within the |z|
    bound of the draws' own MCSE (exact draws: z ~ N(0, 1)); the grid behind mint's and
    rat-tumors' draws is checked here too (benchmarks/posteriordb_grid_error.py measures it)."""
    root = exported / "posterior_database"
    checked = {}
    for model in all_models().values():
        posterior = names(model)[0]
        path = root / layout.DRAWS / "draws" / f"{posterior}.json.zip"
        if not path.exists():
            continue
        settings = model.parse_settings()
        reference = model.reference(model.default_data(settings), settings)
        draws = {layout.zoo_scalar(k): v for k, v in layout.reference_draws(
            root, {"reference_posterior_name": posterior}).items()}
        zs = {}
        for check, value in reference.values.items():
            stat = parse_check(check)[2]
            if scalar_of(check) not in draws:
                continue
            x = draws[scalar_of(check)]
            estimate = x.mean() if stat == "mean" else x.std(ddof=1)
            mcse = float(az.mcse(x, method=stat))
            zs[check] = z_score(float(estimate), value, mcse, reference.errors.get(check, 0.0))
        assert zs, model.name
        bound = z_bound(len(zs))
        assert all(abs(z) <= bound for z in zs.values()), (model.name, zs)
        checked[model.name] = len(zs)
    assert {"single-coin", "two-factories", "mint", "rat-tumors"} <= set(checked)


def test_export_is_zipped_as_posteriordb_zips(exported):
    root = exported / "posterior_database"
    for path in root.rglob("*.zip"):
        with zipfile.ZipFile(path) as archive:
            assert archive.namelist() == [path.name.removesuffix(".zip")]
