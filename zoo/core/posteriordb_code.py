"""How a model is written out for posteriordb (``zoo posteriordb export``, which a model's
:meth:`~zoo.core.model.ZooModel.posteriordb_code` serves): its data JSON, a self-contained PyMC
script, and Stan code where it is straightforward.

Each script body defines ``model(data) -> pm.Model`` from the data JSON, as posteriordb's PyMC
models do, with the zoo model's settings written in as constants; the variable names are the
zoo's PyMC names, which the reference draws use (``theta[1]`` in Stan's 1-based form). A script
may parameterise differently from the zoo's fit (mint centred, rat-tumors with theta sampled
rather than integrated out): the posterior of the named variables is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.core.deferred import pd

def columns_json(frame: pd.DataFrame, settings: dict[str, Any]) -> dict[str, Any]:
    """N and every column as a list, a missing value as null."""
    data: dict[str, Any] = {"N": len(frame)}
    for column in frame.columns:
        values = frame[column].to_numpy()
        data[column] = [None if _missing(v) else _plain(v) for v in values]
    return data


def columns_frame(data: dict[str, Any]) -> pd.DataFrame:
    """The inverse of :func:`columns_json`: every list of N values a column, null missing."""
    return pd.DataFrame({key: [np.nan if v is None else v for v in values]
                         for key, values in data.items()
                         if isinstance(values, list) and len(values) == data.get("N")})


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _plain(value):
    """A numpy scalar as the JSON number or string it is."""
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return str(value)


@dataclass(frozen=True)
class PosteriordbCode:
    """How one model is written out: ``pymc(settings, data)`` the script's body (``data``: the
    example written beside it, for settings resolved on it, as gmm's 'auto' priors),
    ``stan(settings)`` its Stan code (None: none), ``data`` its data JSON and ``frame`` the
    inverse (read back by ``zoo posteriordb verify``)."""

    pymc: Callable[[dict[str, Any], pd.DataFrame], str]
    stan: Callable[[dict[str, Any]], str] | None = None
    data: Callable[[pd.DataFrame, dict[str, Any]], dict[str, Any]] = columns_json
    frame: Callable[[dict[str, Any]], pd.DataFrame] = columns_frame
    #: False for a script that builds the zoo's own model (it then needs the zoo installed)
    self_contained: bool = True


#: the data block of a model of N flips y (single-coin, two-factories)
FLIPS_STAN_DATA = """data {
  int<lower=0> N;
  array[N] int<lower=0, upper=1> y;
}
"""
