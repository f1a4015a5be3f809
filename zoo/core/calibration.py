"""What simulation-based calibration (``zoo sbc``, :mod:`zoo.tools.sbc`) needs of a model: the
contract's :class:`Calibration`, whose defaults serve any model with a proper prior, and the
forward draw those defaults make."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from zoo.core.deferred import pm
from zoo.core.errors import UsageError

if TYPE_CHECKING:
    from zoo.core.model import ZooModel

#: each PyMC model's compiled forward sampler, by the model object's id (kept with the model)
_FORWARD: dict[int, tuple] = {}


class Calibration:
    """What simulation-based calibration needs of a model. The defaults serve any model with a
    proper prior that PyMC can sample forward; a model overrides what differs in a subclass,
    which its :meth:`ZooModel.calibration` returns."""

    #: discrete parameters calibrated through a posterior probability variable:
    #: {name in simulate's truth: posterior variable of p(category | y), one per category}
    discrete: ClassVar[dict[str, str]] = {}
    #: free or deterministic variables whose every scalar is ranked (None: the free variables)
    var_names: ClassVar[list[str] | None] = None

    def __init__(self, model: ZooModel):
        self.model = model

    def notes(self) -> list[str]:
        """What SBC calibrates differently from ``zoo run`` (e.g. a proper prior substituted)."""
        return []

    def parameters(self, settings: dict[str, Any]) -> list[str] | None:
        """The variables ranked under ``settings``: ``var_names`` unless a setting adds or
        removes one (a concentration that is a parameter only when free)."""
        return self.var_names

    def pymc_model(self, settings: dict[str, Any]) -> pm.Model:
        """The model fitted to each simulated data set: the example's shape by default.
        Override where the default prior is improper: calibrate the same likelihood under a
        proper prior, and say so in :meth:`notes`."""
        return self.model.build(self.model.default_data(settings), settings)

    def simulate(self, model: pm.Model, settings: dict[str, Any],
                 rng) -> tuple[dict[str, Any], dict[str, Any]]:
        """One prior-predictive draw: (true parameter values, observed values), both by name.

        The default forward-samples every free, deterministic and observed variable. Override
        to add discrete parameters the model marginalises (see ``discrete``) or where forward
        sampling ignores a transform (an ``ordered`` prior must be sorted).
        """
        return forward_draw(model, rng)

    def start(self, settings: dict[str, Any],
              observed: dict[str, Any]) -> Callable[[int], dict[str, Any]] | None:
        """Where the chains start on one simulated data set: a function from a chain's seed to
        untransformed initial values by name, or None for nutpie's jittered default point.
        Override when the model's fit starts from the data (gmm starts at EM)."""
        return None


def forward_draw(model, rng: np.random.Generator) -> tuple[dict, dict]:
    """(free and deterministic, observed) variables forward-sampled jointly; compiled once per
    model object."""
    if model.potentials:
        raise UsageError("SBC cannot forward-sample a model with a Potential (forward sampling "
                         "ignores it); the model's Calibration must override simulate or pymc_model")
    if id(model) not in _FORWARD:
        names = [v.name for v in model.free_RVs + model.deterministics + model.observed_RVs]
        outputs = [model[name] for name in names]
        with model:
            function = pm.pytensorf.compile(inputs=[], outputs=outputs, random_seed=0)
        _FORWARD[id(model)] = (model, names, function, pm.pytensorf.find_rng_nodes(outputs))
    _, names, function, rngs = _FORWARD[id(model)]
    pm.pytensorf.reseed_rngs(rngs, int(rng.integers(2**63)))
    values = dict(zip(names, function()))
    observed = {v.name for v in model.observed_RVs}
    return ({k: v for k, v in values.items() if k not in observed},
            {k: v for k, v in values.items() if k in observed})
