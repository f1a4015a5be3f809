"""A start-up that costs what the command needs (issue 26 item 1, issue 27 item 7): the
commands that only talk (help, the list, a refused argument) import neither PyMC, PyTensor,
nutpie nor any tool's module. Each case runs the command in a fresh interpreter and reads
``sys.modules`` there, since this test session has long imported everything."""

import json
import subprocess
import sys

import pytest

#: what a command that fits nothing must not import (scipy.stats and pandas cost a second each)
HEAVY = ("pymc", "pytensor", "nutpie", "arviz", "xarray", "matplotlib", "scipy", "pandas",
         "zoo.tools", "zoo.core.pipeline")

CHILD = """
import contextlib, io, json, sys
from zoo.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
    status = main(sys.argv[1:])
print(json.dumps({"status": status, "err": err.getvalue(),
                  "heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY
                                  or any(m == h or m.startswith(h + ".") for h in HEAVY))}))
"""


def imported_by(*argv: str) -> dict:
    """The command's exit status, its stderr and the heavy modules it imported."""
    code = f"HEAVY = {HEAVY!r}\n{CHILD}"
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("argv, status", [
    (["--help"], 0),
    (["list"], 0),
    (["list", "--settings"], 0),
    (["verify", "no-such-model"], 2),
    (["verify", "single-coin", "--draws", "0"], 2),
    (["bench", "--help"], 0),  # a tool's own help imports that tool, and no model machinery
])
def test_talking_commands_import_nothing_heavy(argv, status):
    seen = imported_by(*argv)
    assert seen["status"] == status
    heavy = [m for m in seen["heavy"]
             if not (argv[0] == "bench" and (m == "zoo.tools" or m.startswith("zoo.tools.bench")))]
    assert heavy == [], f"zoo {' '.join(argv)} imported {heavy}"
    if status == 2:
        assert seen["err"].count("\n") == 1 and "Traceback" not in seen["err"], seen["err"]


#: what refusing bad input must not import: the libraries of the fit (issue 26, brief item 2)
FITTING = ("pymc", "pytensor", "nutpie", "arviz", "xarray", "matplotlib")


@pytest.mark.parametrize("command", ["verify", "run"])
@pytest.mark.parametrize("bad, message", [
    (["--set", "prior=bogus"], "--set prior=bogus"),
    (["--data", "{csv}"], "missing column 'y'"),
])
def test_bad_input_is_refused_before_the_fit_libraries_load(tmp_path, command, bad, message):
    csv = tmp_path / "coin.csv"
    csv.write_text("heads\n1\n0\n")
    seen = imported_by(command, "single-coin", *[arg.format(csv=csv) for arg in bad])
    assert seen["status"] == 2 and message in seen["err"], seen["err"]
    assert seen["err"].count("\n") == 1, seen["err"]
    loaded = [m for m in seen["heavy"] if m.split(".")[0] in FITTING]
    assert loaded == [], f"zoo {command} with {bad} imported {loaded}"


def test_the_check_sees_a_heavy_import():
    """The child's view of ``sys.modules`` is real: once PyMC is used, the check sees it."""
    code = f"HEAVY = {HEAVY!r}\nfrom zoo.core.deferred import pm\npm.Model\n{CHILD}"
    done = subprocess.run([sys.executable, "-c", code, "list"], capture_output=True, text=True,
                          check=True)
    assert "pymc" in json.loads(done.stdout)["heavy"]


def test_the_command_collects_garbage_lean_and_not_at_its_end():
    """``zoo`` (zoo.__main__) makes full collections rarer and freezes the objects left at its
    end, so that the interpreter's shutdown does not collect garbage over them (seconds after
    a fit); zoo.cli.main, which tests and the API's users call, changes neither."""
    code = """
import atexit, contextlib, gc, io, sys
atexit.register(lambda: print(gc.get_freeze_count()))  # registered first: runs last
before = gc.get_threshold(), gc.get_freeze_count()
from zoo.__main__ import main
from zoo.cli import main as cli_main
with contextlib.redirect_stdout(io.StringIO()):
    cli_main(["list"])
    after_cli = gc.get_threshold(), gc.get_freeze_count()
    sys.argv = ["zoo", "list"]
    main()
print(before == after_cli, gc.get_threshold()[2], gc.get_freeze_count())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    (unchanged, threshold, count_after_main), (count_at_exit,) = (
        line.split() for line in done.stdout.splitlines())
    assert unchanged == "True" and int(threshold) > 10
    assert int(count_at_exit) > int(count_after_main)
