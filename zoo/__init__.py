"""A zoo of classic Bayesian models, each fitted with PyMC and checked against an exact or
classical answer: data -> model -> sampling -> reference -> comparison -> report.

The public API is what this module exports (see :mod:`zoo.api` and the README); each model
subclasses :class:`ZooModel` in a module of ``zoo.models`` or of another installed package
(entry-point group ``zoo.models``). The names load on first use, so that ``import zoo`` (and
the ``zoo`` command's start, before it can catch a Ctrl-C) does not wait for PyMC.
"""

import importlib

#: each public name and the module that defines it
_EXPORTS = {
    "calibrate": "zoo.api", "list_models": "zoo.api", "make_site": "zoo.api",
    "verify": "zoo.api", "verify_many": "zoo.api", "write": "zoo.api",
    "get_model": "zoo.api",
    "Column": "zoo.core.data",
    "DataError": "zoo.core.errors", "EnvironmentProblem": "zoo.core.errors", "UsageError": "zoo.core.errors",
    "ZooError": "zoo.core.errors",
    "Setting": "zoo.core.model", "ZooModel": "zoo.core.model",
    "Estimate": "zoo.core.results", "Fit": "zoo.core.results", "Reference": "zoo.core.results",
    "Result": "zoo.core.results",
    "SamplerConfig": "zoo.core.sampling",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    from zoo.core.guest import visiting

    with visiting():  # what importing numpy, pandas and the rest changes is undone
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

