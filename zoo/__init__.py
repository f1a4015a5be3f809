"""The zoo's shared machinery: data -> model -> sampling -> reference -> comparison -> report.

Each model lives in its own module under ``models/`` and subclasses :class:`zoo.model.ZooModel`;
nothing in this package imports a specific model except the registry, which discovers them.
"""

from zoo.errors import DataError, UsageError, ZooError
from zoo.model import Setting, ZooModel
from zoo.results import Fit, Reference
from zoo.sampling import SamplerConfig

__all__ = [
    "DataError",
    "Fit",
    "Reference",
    "SamplerConfig",
    "Setting",
    "UsageError",
    "ZooError",
    "ZooModel",
]
