"""The Python API is a guest in the user's session (issue 27.3): a verify leaves warnings
filters, loggers, PyTensor's configuration, signal handlers and the garbage collector as it
found them."""

import gc
import logging
import signal
import warnings

import pymc  # noqa: F401  (imported first, as in a user's notebook: its own import sets its logger)
import pytensor
import pytest

import zoo
from zoo.core.sampling import quieted_pymc

LOGGERS = ("pymc", "pytensor", "pmx", "nutpie", "")
CONFIG = ("generated_src_dir", "linker", "mode", "floatX", "compiledir")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def session_state() -> dict:
    """What a notebook user set up and the zoo must leave alone."""
    return {
        "warnings": list(warnings.filters),
        "levels": {name: logging.getLogger(name).level for name in LOGGERS},
        "config": {name: str(getattr(pytensor.config, name)) for name in CONFIG},
        "signals": {number: signal.getsignal(number) for number in SIGNALS},
        "frozen objects": gc.get_freeze_count(),  # the command freezes them as it ends; not this
    }


@pytest.mark.parametrize("nuts_sampler", ["nutpie", "pymc"])
def test_verify_leaves_the_session_as_it_found_it(nuts_sampler, caplog):
    caplog.set_level(logging.DEBUG, logger="pymc")  # the user's choices, which the zoo's
    warnings.simplefilter("default", RuntimeWarning)  # quieting used to override for good
    before = session_state()
    result = zoo.verify("single-coin", draws=200, tune=200, chains=2, seed=3,
                        nuts_sampler=nuts_sampler)
    assert len(result.checks) == 2  # it did run
    assert session_state() == before


def test_quieting_is_undone_when_the_block_fails():
    before = session_state()
    with pytest.raises(ZeroDivisionError), quieted_pymc("pmx"):
        assert logging.getLogger("pmx").level == logging.ERROR
        assert pytensor.config.generated_src_dir.endswith("generated_src")
        warnings.warn("overflow encountered in exp", RuntimeWarning)  # ignored here
        1 / 0
    assert session_state() == before


def test_sbc_plots_leave_the_matplotlib_backend_alone(tmp_path):
    """``zoo.calibrate`` in a notebook switched its inline backend to Agg for good."""
    import matplotlib
    import numpy as np

    from zoo.tools.sbc import plot_all

    summary = {"model": "toy", "simulations": 50, "threshold": 0.01, "binary_calibration": {},
               "parameters": {"theta": {"pit": list(np.linspace(0.01, 0.99, 50)),
                                        "flagged": False, "p_value": 0.5}}}
    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        assert [p.name for p in plot_all(summary, tmp_path)] == ["sbc-theta.png"]
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(previous)


#: warnings the zoo's own calls raise and handle themselves (issue 23: they reached stderr)
HANDLED = [
    (UserWarning, "Numba will use object mode to run beta_binomial_rv{\"(),(),()->()\"}'s "
                  "perform method. Set `pytensor.config.compiler_verbose = True` to see more details."),
    (RuntimeWarning, "overflow encountered in exp"),
    (RuntimeWarning, "divide by zero encountered in log"),
    (RuntimeWarning, "invalid value encountered in add"),
]


@pytest.mark.parametrize("category, message", HANDLED)
def test_quieting_silences_the_warnings_the_zoo_handles_and_only_inside(category, message):
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        before = list(warnings.filters)
        with quieted_pymc():
            warnings.warn(message, category)
        assert shown == [] and warnings.filters == before
        warnings.warn(message, category)  # the user's filters again: shown
        assert [str(w.message) for w in shown] == [message]


#: run in a fresh interpreter: the session's state before and after the API's first call,
#: which imports PyMC, SciPy and the rest for the first time
FIRST_CALL = """
import json, logging, sys, warnings
import zoo

def state():
    loggers = {name: [logger.level, len(logger.handlers), logger.propagate, logger.disabled]
               for name, logger in [("", logging.root), *logging.Logger.manager.loggerDict.items()]
               if isinstance(logger, logging.Logger)}
    return {"filters": [repr(f) for f in warnings.filters], "loggers": loggers}

before = state()
results = list(CALL)
after = state()
print(json.dumps({"before": before, "after": after, "checks": len(results[0].checks)}))
"""


@pytest.mark.parametrize("call", [
    'zoo.verify("single-coin", draws=200, tune=200, chains=2, seed=3)',
    'zoo.verify_many(["single-coin"], draws=200, tune=200, chains=2, seed=3)'])
def test_the_first_call_leaves_the_session_as_it_found_it(call):
    """Issue 23: after a bare ``import zoo``, the first verify left warnings.filters grown
    (5 -> 11: SciPy's and NumPy's import-time filters) and the "pymc" logger at INFO with a
    handler (PyMC's import), since the zoo imported them inside the call. A logger made
    during the call is left as logging makes one: level NOTSET, no handler."""
    import json
    import subprocess
    import sys

    script = "[" + call + "]" if call.startswith("zoo.verify(") else call
    done = subprocess.run([sys.executable, "-c", FIRST_CALL.replace("CALL", script)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["checks"] == 2  # it did run
    before, after = found["before"], found["after"]
    assert after["filters"] == before["filters"]
    fresh = [logging.NOTSET, 0, True, False]
    assert {name: after["loggers"][name] for name in before["loggers"]} == before["loggers"]
    made = {name: state for name, state in after["loggers"].items() if name not in before["loggers"]}
    assert made and all(state == fresh for state in made.values()), made
