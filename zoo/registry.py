"""Finds the models: every module in ``models/`` that defines ``MODEL``, so adding a model
means adding one file there."""

from __future__ import annotations

import importlib
import pkgutil

import zoo.models
from zoo.errors import UsageError
from zoo.model import ZooModel


def all_models() -> dict[str, ZooModel]:
    """Every model by name, in file order."""
    found = {}
    for info in sorted(pkgutil.iter_modules(zoo.models.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"zoo.models.{info.name}")
        model = getattr(module, "MODEL", None)
        if isinstance(model, ZooModel):
            found[model.name] = model
    return found


def get_model(name: str) -> ZooModel:
    """The model called ``name``; UsageError listing the known ones otherwise."""
    known = all_models()
    if name not in known:
        raise UsageError(f"unknown model {name!r}; known models: {', '.join(known)}")
    return known[name]
