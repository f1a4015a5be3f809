"""A zoo model as posteriordb code: the model's own (:meth:`ZooModel.posteriordb_code`, see
:mod:`zoo.core.posteriordb_code`) made a script that runs NUTS when called as ``python SCRIPT
DATA.json``. A model that writes no code of its own gets a script that builds the zoo's own
model, which needs the zoo installed, and the model info says so. Stan code was not compiled
here (no Stan on the machine that wrote it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from zoo.core.model import ZooModel
from zoo.core.posteriordb_code import PosteriordbCode

SCRIPT_HEAD = '''"""{title}

The bayes zoo's `{name}` model, written for posteriordb by `zoo posteriordb export`.
Settings: {settings}.
Run `python {file} DATA.json` to sample it with PyMC.
"""

import json
import sys

import numpy as np
import pymc as pm
'''

SCRIPT_TAIL = '''

if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as file:
        print(pm.sample(model=model(json.load(file)), random_seed=1).posterior)
'''


def zoo_pymc(name: str) -> Callable[[dict[str, Any], pd.DataFrame], str]:
    """A script that builds the zoo's own model (not self-contained: it needs the zoo)."""

    def script(settings: dict[str, Any], data: pd.DataFrame) -> str:
        return f'''
import pandas as pd
from zoo.core.registry import get_model

ZOO_MODEL = get_model({name!r})


def model(data):
    """The zoo's model under its default settings, on the data's columns."""
    frame = pd.DataFrame({{k: v for k, v in data.items() if k != "N"}})
    return ZOO_MODEL.build(frame, ZOO_MODEL.parse_settings())
'''

    return script


def model_code(model: ZooModel) -> PosteriordbCode:
    """The model's code: its own, else a script that builds the zoo's model."""
    return model.posteriordb_code() or PosteriordbCode(zoo_pymc(model.name), self_contained=False)


def pymc_script(model: ZooModel, code: PosteriordbCode, settings_text: str, file: str,
                settings: dict[str, Any], data: pd.DataFrame) -> str:
    head = SCRIPT_HEAD.format(title=model.title, name=model.name, settings=settings_text, file=file)
    return head + code.pymc(settings, data) + SCRIPT_TAIL
