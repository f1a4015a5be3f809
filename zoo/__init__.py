"""A zoo of classic Bayesian models, each fitted with PyMC and checked against an exact or
classical answer: data -> model -> sampling -> reference -> comparison -> report.

The public API is what this module exports (see :mod:`zoo.api` and the README); each model
subclasses :class:`ZooModel` in a module of ``zoo.models`` or of another installed package
(entry-point group ``zoo.models``).
"""

from zoo.api import calibrate, list_models, make_site, verify, verify_many, write
from zoo.data import Column
from zoo.errors import DataError, UsageError, ZooError
from zoo.model import Setting, ZooModel
from zoo.registry import get_model
from zoo.results import Estimate, Fit, Reference, Result
from zoo.sampling import SamplerConfig

__all__ = [
    "Column",
    "DataError",
    "Estimate",
    "Fit",
    "Reference",
    "Result",
    "SamplerConfig",
    "Setting",
    "UsageError",
    "ZooError",
    "ZooModel",
    "calibrate",
    "get_model",
    "list_models",
    "make_site",
    "verify",
    "verify_many",
    "write",
]
