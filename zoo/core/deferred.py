"""The heavy libraries, imported on first use: the one place where the zoo defers an import.

``zoo --help``, ``zoo list`` and a refused argument must answer in a fraction of a second, yet
``zoo list`` imports every model module to read its name, title, columns and settings, and
PyMC, PyTensor, ArviZ, xarray and matplotlib take seconds to import, scipy.stats and pandas
about a second each. The zoo's modules and its models therefore take them from here under
their usual names (``from zoo.core.deferred import pm, pt``; scipy's subpackages as ``special``,
``stats``, ...): each is a stand-in that imports the real module the first time one of its
attributes is looked up, so a module that only defines classes and functions costs nothing
until a model is built, fitted or drawn. numpy (a tenth of a second) is imported as usual.

Where a stand-in cannot serve (a submodule's names, ``from pymc.model.fgraph import ...``, or a
package that is optional), the import is written inside the function that needs it, and only
for the libraries in :data:`IMPORTED_IN_FUNCTIONS`; the command line and the API
(``zoo/cli.py``, ``zoo/api.py``, ``zoo/__init__.py``, ``zoo/__main__.py``) also import the
zoo's own commands on use, so that ``zoo --help`` loads none of them. ``tests/test_layers.py``
holds every other import to the top of its module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


class DeferredModule:
    """Stands in for the module ``name``; any attribute imports it (once: Python caches it)."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        raise AttributeError(f"set {attribute} on the module {self._name} itself, not its stand-in")

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"


def load(*modules: DeferredModule) -> None:
    """Import ``modules`` now rather than on first use, so that their seconds fall where the
    caller counts them (a run's imports, not its first check)."""
    for module in modules:
        importlib.import_module(object.__getattribute__(module, "_name"))


#: the libraries a function may import on use: the heavy ones, and the optional ones (Dask's
#: ``distributed``, ``pymc_extras``, ``rich``, ``jinja2`` for the report)
IMPORTED_IN_FUNCTIONS = frozenset({"arviz", "dask", "distributed", "jinja2", "matplotlib", "numba",
                                   "nutpie", "pymc", "pymc_extras", "pytensor", "rich", "scipy"})


if TYPE_CHECKING:  # type checkers and editors see the real modules
    import arviz as az
    import arviz_stats.base as arviz_stats_base
    import matplotlib.pyplot as plt
    import pandas as pd
    import pymc as pm
    import pytensor.tensor as pt
    import xarray as xr
    from scipy import integrate, linalg, optimize, special, stats
else:
    az = DeferredModule("arviz")
    arviz_stats_base = DeferredModule("arviz_stats.base")
    plt = DeferredModule("matplotlib.pyplot")
    pd = DeferredModule("pandas")
    pm = DeferredModule("pymc")
    pt = DeferredModule("pytensor.tensor")
    xr = DeferredModule("xarray")
    integrate = DeferredModule("scipy.integrate")
    linalg = DeferredModule("scipy.linalg")
    optimize = DeferredModule("scipy.optimize")
    special = DeferredModule("scipy.special")
    stats = DeferredModule("scipy.stats")
