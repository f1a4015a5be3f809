"""A zoo of classic Bayesian models, each fitted with PyMC and checked against an exact or
classical answer: data -> model -> sampling -> reference -> comparison -> report.

The public API is what this module exports (see :mod:`zoo.api` and the README); each model
subclasses :class:`ZooModel` in a module of ``zoo.models`` or of another installed package
(entry-point group ``zoo.models``). The names load on first use, so that ``import zoo`` (and
the ``zoo`` command's start, before it can catch a Ctrl-C) does not wait for PyMC.

The modules the documentation named directly under ``zoo`` before it was layered (issue 27:
data, deferred, model, parsers, pipeline, reference_cache, results, sampling) still import
under those names, as the very same module objects as their new ones in ``zoo.core``.
"""

import importlib
import importlib.abc
import importlib.util
import sys

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


#: modules the documentation named at the top of the package, now in the core:
#: ``zoo.NAME`` is ``zoo.core.NAME``
_MOVED_TO_CORE = ("data", "deferred", "model", "parsers", "pipeline", "reference_cache", "results",
                  "sampling")


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``zoo.NAME`` for a moved module: the new module itself, under both names (with
    its own spec, which the import system replaces by the old name's)."""

    def __init__(self):
        self.specs = {}

    def find_spec(self, fullname, path, target=None):
        package, _, name = fullname.rpartition(".")
        if package == __name__ and name in _MOVED_TO_CORE:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module(f"{__name__}.core.{spec.name.rpartition('.')[2]}")
        self.specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        """Already executed under its new name; only its own spec is given back."""
        module.__spec__ = self.specs.pop(module.__spec__.name)


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
