"""Shared fixtures: small, fixed-seed sampler settings so that each model compiles and
samples once per test session."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib
import pytest

from zoo.core.sampling import SamplerConfig

matplotlib.use("Agg")

# references are cached in a folder of this session's (and its subprocesses'), never the user's
os.environ["ZOO_CACHE_DIR"] = tempfile.mkdtemp(prefix="zoo-test-cache-")
atexit.register(shutil.rmtree, os.environ["ZOO_CACHE_DIR"], ignore_errors=True)

#: a model of one's own in a package of its own (its entry point is registered by ``toy_model``)
TOY = Path(__file__).resolve().parent / "toy_model_package"

#: 4 chains x 500 draws: enough for bulk ESS >= 400 on these models, and fast
FAST = SamplerConfig(draws=500, tune=500, chains=4, cores=2, seed=1234, progressbar=False)


@pytest.fixture(scope="session")
def fast_config() -> SamplerConfig:
    return FAST


@pytest.fixture
def rejects(tmp_path, capsys):
    """``rejects(args, message, csv_text=None, status=2)``: the CLI must refuse with exit
    ``status`` (2 bad input, 3 the environment), one line on stderr containing ``message``, no
    traceback, nothing on stdout and no output folder.

    With ``csv_text`` a file holding it is written and ``{csv}`` in ``args`` names it; every
    command writes (or would write) into ``{out}``.
    """
    from zoo.cli import main

    def check(args: list[str], message: str, csv_text: str | None = None,
              status: int = 2) -> str:
        csv, out = tmp_path / "data.csv", tmp_path / "out"
        if csv_text is not None:
            csv.write_text(csv_text)
        args = [a.format(csv=csv, out=out) for a in args]
        assert main(args) == status
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1 and message in captured.err, captured.err
        assert "Traceback" not in captured.err
        assert not out.exists()
        return captured.err

    return check


@pytest.fixture(scope="session")
def example_run():
    """``example_run(name)``: the model verified on its bundled example with FAST, run once per
    session however many test files ask for it."""
    from zoo.core.pipeline import run
    from zoo.core.registry import get_model

    runs = {}

    def get(name: str):
        if name not in runs:
            runs[name] = run(get_model(name), config=FAST)
        return runs[name]

    return get


@pytest.fixture
def toy_model(tmp_path, monkeypatch):
    """The toy package's model registered through its entry point, as if installed: its name."""
    from zoo.core.registry import ENTRY_POINT_GROUP

    dist = tmp_path / "toy_zoo_model-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-zoo-model\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\npoisson-rate = toy_zoo_model:MODEL\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(TOY))
    return "poisson-rate"
