"""The zoo as a package: the built wheel works from any folder with nothing from the checkout,
a model from another package is found through its entry point, and the public API does what
the README says."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import zoo
from zoo.core.registry import ENTRY_POINT_GROUP, all_models, origins

ROOT = Path(__file__).resolve().parent.parent
TOY = Path(__file__).resolve().parent / "toy_model_package"
#: what the wheel's build needs of the checkout; the rest (venv, reports, caches) is left out
SKIP = shutil.ignore_patterns(".venv", ".git", "reports", "build", "dist", "*.egg-info",
                              "__pycache__", ".pytest_cache")


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A new venv holding only the built wheel of the zoo and the toy model package.

    Their dependencies (PyMC and the rest, minutes to install) are borrowed from the test's own
    environment through a .pth line, which adds its site-packages to the path without running
    its own .pth files: the zoo's editable install there stays inactive.
    """
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    _pip("wheel", "--no-deps", "-w", str(work / "dist"), str(source), str(TOY))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _pip("--python", str(python), "install", "--no-deps", *map(str, (work / "dist").glob("*.whl")))
    return venv


def _zoo(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([venv / "bin" / "zoo", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_wheel_works_from_an_unrelated_folder(installed, tmp_path):
    listing = _zoo(installed, "list", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "single-coin" in listing.stdout
    assert re.search(r"poisson-rate .*\(from toy-zoo-model\)", listing.stdout)
    verified = _zoo(installed, "verify", "single-coin", "--json", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["passed"]
    site = _zoo(installed, "report", "single-coin", "--out", "site", cwd=tmp_path)
    assert site.returncode == 0, site.stderr
    assert (tmp_path / "site" / "single-coin" / "index.html").is_file()
    python = installed / "bin" / "python"
    where = subprocess.run([python, "-c", "import zoo.models, zoo.datasets; "
                            "print(zoo.models.__file__, zoo.datasets.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and "site-packages" in where
    no_models = subprocess.run([python, "-c", "import models"], cwd=tmp_path, capture_output=True)
    assert no_models.returncode != 0  # no top-level 'models' to collide with another project's


def test_a_model_from_another_package_is_verified(installed, tmp_path):
    verified = _zoo(installed, "verify", "poisson-rate", "--json", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    document = json.loads(verified.stdout)
    assert document["passed"] and {c["name"] for c in document["checks"]} == {"rate.mean", "rate.sd"}


def test_an_entry_point_that_is_not_a_model_is_one_clear_error(tmp_path, monkeypatch, capsys):
    dist = tmp_path / "broken_models-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-models\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nnothing = json:dumps\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from zoo.cli import main

    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken-models" in err and "not a zoo.ZooModel" in err


def test_an_entry_point_model_is_listed_with_its_origin(toy_model):
    assert toy_model in all_models() and origins()[toy_model] == "toy-zoo-model"
    assert origins()["single-coin"] == "zoo"


def test_the_readme_shows_the_tested_toy_model():
    assert (TOY / "toy_zoo_model.py").read_text().strip() in (ROOT / "README.md").read_text()


def test_the_readme_api_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md (Python API)", "exec"), {})
    assert (tmp_path / "reports" / "site" / "index.html").is_file()


def test_api_names_survive_importing_every_module():
    import zoo.report.text  # noqa: F401  (modules with the names the API avoids)
    import zoo.tools.sbc  # noqa: F401

    for name in zoo.__all__:
        assert getattr(zoo, name) is not None
    assert callable(zoo.make_site) and callable(zoo.calibrate) and callable(zoo.verify)


def test_importing_zoo_adds_no_import_hook():
    """Issue 27's layers moved modules into zoo.core; no finder on sys.meta_path keeps the old
    paths alive, since a hook there would change every later import in the user's process."""
    code = ("import sys; before = list(sys.meta_path); import zoo; zoo.ZooModel; "
            "assert sys.meta_path == before, sys.meta_path")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_api_refuses_unknown_options_in_one_line():
    with pytest.raises(zoo.UsageError, match="sampler option 'drawz' is not known"):
        zoo.verify("single-coin", drawz=10)
    with pytest.raises(zoo.UsageError, match="no setting 'nope'"):
        zoo.verify("single-coin", settings={"nope": 1})


def test_every_package_folder_is_in_the_wheel():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "zoo").rglob("__init__.py")}
    assert folders <= listed, f"add to pyproject's packages: {sorted(folders - listed)}"


BAD_SAMPLER_OPTIONS = [  # issue 23: each was taken, or failed with another error, or after fitting
    ({"draws": 0}, "draws=0: must be a whole number of at least 1"),
    ({"draws": -3}, "draws=-3: must be a whole number of at least 1"),
    ({"draws": 2.5}, "draws=2.5: must be a whole number of at least 1"),
    ({"draws": True}, "draws=True: must be a whole number"),
    ({"tune": -1}, "tune=-1: must be a whole number of at least 0"),
    ({"chains": 0}, "chains=0: must be at least 2"),
    ({"chains": 1}, "chains=1: must be at least 2"),
    ({"cores": 0}, "cores=0: must be a whole number of at least 1"),
    ({"seed": "abc"}, "seed='abc': must be a whole number between 0 and 2**32 - 101"),
    ({"seed": 2**32 - 100}, "seed=4294967196: must be a whole number between 0 and 2**32 - 101"),
    ({"seed": -1}, "seed=-1: must be a whole number between 0"),
    ({"target_accept": 2.0}, "target_accept=2.0: must be a number between 0 and 1"),
    ({"target_accept": 0}, "target_accept=0: must be a number between 0 and 1"),
    ({"sampler": "gibbs"}, "sampler='gibbs': must be one of 'nuts', 'smc'"),
    ({"nuts_sampler": "stan"}, "nuts_sampler='stan': must be one of None, 'pymc', 'nutpie'"),
    ({"progressbar": "no"}, "progressbar='no': must be True or False"),
]


@pytest.mark.parametrize("options, message", BAD_SAMPLER_OPTIONS,
                         ids=[str(options) for options, _ in BAD_SAMPLER_OPTIONS])
def test_api_refuses_bad_sampler_values_before_fitting(monkeypatch, options, message):
    import zoo.core.pipeline

    def fit(*args, **kwargs):
        raise AssertionError("fitted before checking the sampler options")

    monkeypatch.setattr(zoo.core.pipeline, "run", fit)
    with pytest.raises(zoo.UsageError) as raised:
        zoo.verify("single-coin", **options)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_largest_seed_is_the_one_the_message_names(rejects):
    """Issue 23: the message said 2**32 - 100 while 2**32 - 101 was the largest seed taken;
    the API and every command's --seed agree with it at the boundary."""
    from zoo.cli import build_parser
    from zoo.core.sampling import SamplerConfig

    largest = 2**32 - 101
    assert SamplerConfig(seed=largest).seed == largest
    with pytest.raises(zoo.UsageError, match=r"between 0 and 2\*\*32 - 101$"):
        SamplerConfig(seed=largest + 1)
    for command in (["run", "single-coin"], ["sbc", "single-coin"], ["methods", "single-coin"]):
        assert build_parser(command).parse_args([*command, "--seed", str(largest)]).seed == largest
        rejects([*command, "--seed", str(largest + 1), "--out", "{out}"],
                "between 0 and 2**32 - 101")


def test_zero_tuning_is_kept_not_replaced_by_the_default():
    """Issue 23: tune=0 (and draws=0) silently became the defaults. No tuning is legitimate
    (PyMC's NUTS then samples with its initial step size); no draws is refused above."""
    from zoo.core.sampling import SamplerConfig

    assert SamplerConfig(tune=0).resolved("pymc").tune == 0
    assert SamplerConfig(tune=0).resolved("nutpie").tune == 0
