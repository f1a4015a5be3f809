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
from zoo.sampling import quieted_pymc

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

    from zoo.sbc import plot_all

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
