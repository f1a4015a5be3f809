"""Finds the models: every module of ``zoo.models`` that defines ``MODEL``, so adding a model to
the zoo means adding one file there, and every entry point of the group ``zoo.models`` that
other installed packages declare (``name = "package.module:MODEL"``), so a model can live in a
package of its own."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from importlib.metadata import entry_points

import zoo.models
from zoo.core.errors import UsageError, ZooError
from zoo.core.model import ZooModel

ENTRY_POINT_GROUP = "zoo.models"
#: the origin of the zoo's own models in ``zoo list``
BUILT_IN = "zoo"


def all_models() -> dict[str, ZooModel]:
    """Every model by name: the zoo's own in file order, then those of other packages."""
    return {name: model for name, (model, _) in _found().items()}


def origins() -> dict[str, str]:
    """Where each model comes from: ``zoo`` or the distribution that declared it."""
    return {name: origin for name, (_, origin) in _found().items()}


def get_model(name: str) -> ZooModel:
    """The model called ``name``; UsageError listing the known ones otherwise."""
    known = all_models()
    if name not in known:
        raise UsageError(f"unknown model {name!r}; known models: {', '.join(known)}")
    return known[name]


def models_asked(args: argparse.Namespace, command: str) -> list:
    """The models of a command that takes a MODEL or --all (verify, methods); UsageError for
    both, neither, or --data / --set with --all."""
    if args.all and args.model:
        raise UsageError(f"{command} takes a MODEL or --all, not both")
    if not (args.all or args.model):
        raise UsageError(f"{command} needs a MODEL or --all (zoo list shows the models)")
    if args.all and (args.data or args.set_pairs):
        raise UsageError("--data and --set apply to one model; they cannot go with --all")
    return list(all_models().values()) if args.all else [get_model(args.model)]


def _found() -> dict[str, tuple[ZooModel, str]]:
    found = {}
    for info in sorted(pkgutil.iter_modules(zoo.models.__path__), key=lambda m: m.name):
        model = getattr(importlib.import_module(f"zoo.models.{info.name}"), "MODEL", None)
        if isinstance(model, ZooModel):
            found[model.name] = (model, BUILT_IN)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        origin = point.dist.name if point.dist else point.value
        model = _load(point, origin)
        if model.name in found:
            raise ZooError(f"model package {origin}: its model {model.name!r} has the name of "
                           f"one from {found[model.name][1]}; rename it")
        found[model.name] = (model, origin)
    return found


def _load(point, origin: str) -> ZooModel:
    """The model an entry point names: a ZooModel instance (or a module defining MODEL)."""
    where = f"model package {origin}: entry point {point.name} = {point.value}"
    try:
        loaded = point.load()
    except Exception as err:  # a broken package must not look like a zoo bug
        raise ZooError(f"{where} does not load ({type(err).__name__}: {err})") from None
    model = getattr(loaded, "MODEL", loaded)
    if not isinstance(model, ZooModel):
        raise ZooError(f"{where} is a {type(model).__name__}, not a zoo.ZooModel instance")
    return model
