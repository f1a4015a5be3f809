"""nutpie's compiled models kept for the Python session, keyed on the model's structure.

Compiling a PyMC model for nutpie (PyTensor graphs, numba typing, LLVM) costs seconds; the
draws of a small model cost a tenth of one. A model verified again in one session (new data,
another seed, other sampler settings), and every fit of SBC, power and sweeps, reuses the
model compiled the first time: its observed values are compiled as shared variables of any
size, so a later model of the same structure only swaps its own data in (nutpie's
``with_data``). Across processes, the compile itself is shortened by callbacks that numba
keeps on disk (:mod:`zoo.core.nutpie_callbacks`).

The key is the whole symbolic model with the observed values left out: every variable,
operation (pickled, so all its parameters), constant (its bytes), name, static shape,
transform, dimension and coordinate; dims are frozen to constants first, so their lengths
are part of it. A model that differs in anything but its observed values gets a key of its
own and is compiled (a ``CustomDist``'s start point is left out: the compiled model takes
its start from the model it serves); a model the key cannot describe (a non-default
``initval``, an operation that cannot be pickled, a trace variable whose shape follows the
data) is compiled every time, never served from the cache.
"""

from __future__ import annotations

import hashlib
import io
import marshal
import pickle
import sys
import threading
import types
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from zoo.core import nutpie_callbacks, progress_lines, stopwatch

#: compiled models kept (least recently used dropped first): a sweep over a structural
#: setting compiles one per value
MAX_MODELS = 16


@dataclass(frozen=True)
class CacheInfo:
    """How the session's cache has served: ``compiles`` counts every nutpie compile, cached
    or not (a model the key cannot describe is compiled each time)."""

    hits: int
    compiles: int
    size: int


_MODELS: OrderedDict[str, Any] = OrderedDict()
_COUNTS = {"hits": 0, "compiles": 0}
_LOCK = threading.Lock()  # SBC's worker threads may fit in parallel


def cache_info() -> CacheInfo:
    return CacheInfo(_COUNTS["hits"], _COUNTS["compiles"], len(_MODELS))


def cache_clear() -> None:
    """Forget every compiled model and the counts (tests; freeing memory)."""
    with _LOCK:
        _MODELS.clear()
        _COUNTS.update(hits=0, compiles=0)


def nutpie_model(model, *, initial_points: dict | None = None,
                 jitter_rvs: set | None = None):
    """nutpie's compiled model for ``model`` with its own data and initial points: a model of
    the same structure compiled earlier in the session when there is one, else compiled now
    (and kept). ``initial_points`` and ``jitter_rvs`` as ``nutpie.compile_pymc_model`` takes
    them."""
    import nutpie

    with stopwatch.phase("building"):
        slots = data_slots(model)
        key = structure_key(slots[0], model) if slots is not None else None
    if key is None:
        _COUNTS["compiles"] += 1
        progress_lines.compiling()
        with stopwatch.phase("compiling"):
            return nutpie.compile_pymc_model(model, initial_points=initial_points,
                                             jitter_rvs=jitter_rvs)
    fgraph, data = slots
    with _LOCK:
        compiled = _MODELS.get(key)
        if compiled is None:
            progress_lines.compiling()
            with stopwatch.phase("compiling"):
                compiled = nutpie_callbacks.compile_model(_model_with_slots(fgraph, model))
            _COUNTS["compiles"] += 1
            _MODELS[key] = compiled
            while len(_MODELS) > MAX_MODELS:
                _MODELS.popitem(last=False)
        else:
            _COUNTS["hits"] += 1
            _MODELS.move_to_end(key)
    used = {variable.name for variable in compiled.shared_var_keys}  # not e.g. a dim's length
    own = compiled.with_data(**{name: value for name, value in data.items() if name in used})
    with stopwatch.phase("compiling"):  # PyMC compiles the initial-point function
        return replace(own, initial_point_func=flat_initial_point(
            model, own, initial_points=initial_points, jitter_rvs=jitter_rvs))


def data_slots(model) -> tuple[Any, dict[str, np.ndarray]] | None:
    """The model as a FunctionGraph (PyMC's own conversion) whose observed values are shared
    variables, and the values to put in them by name; None when PyMC cannot convert it (a
    model with a non-default ``initval``) or two data variables share a name."""
    import pytensor
    from pymc.model.fgraph import ModelObservedRV, fgraph_from_model, model_observed_rv
    from pymc.model.transform.optimization import freeze_dims_and_data
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.tensor.random.type import RandomType

    if any(value is not None for value in model.rvs_to_initial_values.values()):
        return None
    try:
        fgraph, _ = fgraph_from_model(freeze_dims_and_data(model, data=[]), inlined_views=True)
        replacements = {}
        for node in fgraph.toposort():
            if isinstance(node.op, ModelObservedRV) and isinstance(node.inputs[1], Constant):
                rv, value = node.inputs[:2]
                slot = pytensor.shared(np.asarray(value.data), name=f"{node.op.name}__observed")
                rv = sized_by(rv, slot)
                replacements[node.outputs[0]] = model_observed_rv(
                    rv, rv.type.filter_variable(slot), node.op.name, *node.op.dims)
        for old, new in replacements.items():  # fgraph.replace would pin new to old's shape
            for client, index in list(fgraph.clients[old]):
                fgraph.change_node_input(client, index, new, import_missing=True, check=False)
    except (NotImplementedError, TypeError, ValueError):  # PyMC's conversion refused it
        return None
    shared = [v for v in fgraph.variables
              if isinstance(v, SharedVariable) and not isinstance(v.type, RandomType)]
    data = {v.name: v.get_value(borrow=True) for v in shared}
    if None in data or len(data) < len(shared):
        return None
    return fgraph, data


def sized_by(rv, slot):
    """``rv`` drawn at the size of ``slot``'s data, whatever it holds, where PyMC fixed its size
    to the observed values' shape (a plain random variable whose size is that constant): the
    compiled model then takes data of any size. Any other ``rv`` as it is (a mixture keeps
    its components' size, so gmm gets a key per number of points)."""
    from pytensor.graph.basic import Constant
    from pytensor.tensor.random.op import RandomVariable

    node = rv.owner
    if not isinstance(node.op, RandomVariable) or node.outputs[1] is not rv:
        return rv
    rng, size, *parameters = node.inputs
    value = slot.get_value(borrow=True)
    if not isinstance(size, Constant) or tuple(np.ravel(size.data)) != value.shape:
        return rv
    return node.op.make_node(rng, slot.shape, *parameters).outputs[1]


def structure_key(fgraph, model) -> str | None:
    """A digest of everything in ``fgraph`` but the values of its data variables (see the
    module's docstring); None when some part cannot be described exactly."""
    from pymc.model.fgraph import ModelDeterministic, ModelFreeRV
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant

    traced = [node.outputs[0] for node in fgraph.apply_nodes
              if isinstance(node.op, ModelFreeRV | ModelDeterministic)]
    if any(_shape_may_follow_data(v) for v in traced):
        return None  # the compiled model would not fit another data set
    digest = hashlib.sha256()
    numbers: dict[Any, int] = {}

    def number(variable) -> int:
        if variable not in numbers:
            numbers[variable] = len(numbers)
            digest.update(repr((numbers[variable], variable.name, str(variable.type),
                                getattr(variable.type, "shape", None))).encode())
            if variable.owner is None:
                if isinstance(variable, Constant):
                    digest.update(_bytes_of(variable.data))
                elif not isinstance(variable, SharedVariable):
                    digest.update(b"input")
        return numbers[variable]

    try:
        for node in fgraph.toposort():
            inputs = [number(v) for v in node.inputs]
            digest.update(hashlib.sha256(_pickled(node.op)).digest())
            digest.update(repr((inputs, [number(v) for v in node.outputs])).encode())
        digest.update(repr([number(v) for v in fgraph.outputs]).encode())
        digest.update(_pickled((fgraph._coords, model.check_bounds,
                                    sorted((k, number(v)) for k, v in fgraph._dim_lengths.items()))))
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return None
    return digest.hexdigest()


def _shape_may_follow_data(variable) -> bool:
    """Whether ``variable``'s shape is not known when compiling and its shape, simplified by
    PyTensor's shape rewrites, stands on a data variable (a shared variable other than a random
    generator): dims are frozen to constants first, so a shape left unknown otherwise comes
    from constants alone (gmm's means: their static shape is lost inside a CustomDist, while
    their parameters are data)."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.rewriting.utils import rewrite_graph
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.random.type import RandomType

    if None not in getattr(variable.type, "shape", (None,)):
        return False
    shape = rewrite_graph(variable.shape, include=("canonicalize", "ShapeOpt"), clone=True)
    return any(isinstance(v, SharedVariable) and not isinstance(v.type, RandomType)
               for v in ancestors([shape]))


class _DescribingPickler(pickle.Pickler):
    """Pickles what cannot be pickled by name as what it computes; the bytes are only hashed,
    never loaded. A function defined inside another (PyMC's interval transforms keep one):
    its code and the values it closes over. A class made at run time (a ``CustomDist``'s
    operation): its name, bases and attributes, and the functions PyMC's log-density
    dispatchers hold for exactly that class (a custom ``logp`` lives there, not on the
    class). A data variable those functions close over (gmm's prior parameters): its type
    and name, as the graph's own data variables are keyed."""

    def __init__(self, file, classes: set[type]):
        from pytensor.compile.builders import OpFromGraph
        from pytensor.compile.sharedvalue import SharedVariable
        from pytensor.graph.basic import Constant

        super().__init__(file)
        self._classes = classes  # being described: a function registered for one closes
        # over the class itself
        # looked up once, not for every object pickled
        self._constant, self._shared, self._op_from_graph = Constant, SharedVariable, OpFromGraph

    def reducer_override(self, obj):
        if isinstance(obj, types.FunctionType) and "<locals>" in obj.__qualname__:
            cells = tuple(cell.cell_contents for cell in obj.__closure__ or ())
            return tuple, ((obj.__module__, obj.__qualname__, marshal.dumps(obj.__code__),
                            obj.__defaults__, cells),)
        if isinstance(obj, type) and not _importable(obj):
            if obj in self._classes:
                return str, (f"the class {obj.__qualname__} being described",)
            self._classes.add(obj)
            attributes = {k: v for k, v in vars(obj).items() if k not in _CLASS_BOOKKEEPING}
            registered = {name: self._digest(dispatcher.registry.get(obj))
                          for name, dispatcher in _log_density_dispatchers().items()}
            return tuple, ((obj.__module__, obj.__qualname__, obj.__bases__, attributes,
                            registered),)
        if isinstance(obj, self._constant):  # closed over by a CustomDist's functions
            return tuple, ((str(obj.type), _bytes_of(obj.data)),)
        if isinstance(obj, self._shared):  # data closed over by them: its slot, not its value
            return tuple, (("shared", str(obj.type), obj.name),)
        if isinstance(obj, self._op_from_graph):
            return tuple, ((type(obj), {k: self._digest(v) for k, v in vars(obj).items()
                                        if k not in _OP_FROM_GRAPH_CACHES}),)
        return NotImplemented

    def _digest(self, obj) -> bytes:
        """``obj`` described on its own: a pickle's back-references depend on which objects
        happen to be shared, which differs between two builds of one model."""
        return hashlib.sha256(_pickled(obj, self._classes)).digest()


#: what Python keeps on every class, none of it about what the class computes
_CLASS_BOOKKEEPING = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                      "__abstractmethods__", "_abc_impl", "__slotnames__"}


#: what an OpFromGraph (a CustomDist's operation) fills in from its inner graph when first
#: asked, so that two copies of one operation differ there only by what was asked
_OP_FROM_GRAPH_CACHES = {"_inner_shape_template", "_inner_shape_frozen", "_lop_op_cache",
                         "_rop_op_cache", "_frozen_lop", "_frozen_rop"}


def _importable(cls: type) -> bool:
    found = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is cls


def _log_density_dispatchers() -> dict[str, Any]:
    """PyMC's dispatchers whose functions go into a log density or its gradient (the start
    point's ``_support_point`` does not: the compiled model's start comes from the model
    itself, :func:`flat_initial_point`)."""
    from pymc.distributions.shape_utils import _change_dist_size
    from pymc.logprob.abstract import _icdf, _logcdf, _logprob

    return {"logprob": _logprob, "logcdf": _logcdf, "icdf": _icdf,
            "change_dist_size": _change_dist_size}


def _pickled(obj, classes: set[type] | None = None) -> bytes:
    buffer = io.BytesIO()
    _DescribingPickler(buffer, set() if classes is None else classes).dump(obj)
    return buffer.getvalue()


def _bytes_of(data) -> bytes:
    if isinstance(data, np.ndarray):
        return repr((data.dtype.str, data.shape)).encode() + np.ascontiguousarray(data).tobytes()
    return _pickled(data)


def _model_with_slots(fgraph, model):
    from pymc.model.fgraph import model_from_fgraph

    slotted = model_from_fgraph(fgraph, mutate_fgraph=False)
    slotted.check_bounds = model.check_bounds
    return slotted


def flat_initial_point(model, compiled, *, initial_points: dict | None = None,
                       jitter_rvs: set | None = None) -> Callable[[int], np.ndarray]:
    """nutpie's initial-point function (chain seed -> flat transformed vector) for ``model``,
    as ``nutpie.compile_pymc_model`` makes it: PyMC's initial point, ``initial_points``
    overriding it, jittered for ``jitter_rvs`` (default: every free variable)."""
    from pymc.initial_point import make_initial_point_fn

    point = make_initial_point_fn(
        model=model, overrides=initial_points, default_strategy="support_point",
        jitter_rvs=set(model.free_RVs) if jitter_rvs is None else jitter_rvs,
        return_transformed=True)
    return flat_points(compiled, point)


def flat_points(compiled, point: Callable[[int], dict[str, np.ndarray]]) -> Callable[[int], np.ndarray]:
    """``point`` (chain seed -> transformed values by name) as nutpie takes it: one flat
    float64 vector of the free variables in nutpie's order; called from nutpie's chain
    threads one at a time (PyTensor functions are not thread-safe)."""
    names, slices, _ = compiled.shape_info
    free = [name for name, where in zip(names, slices) if where.stop <= compiled.n_dim]
    lock = threading.Lock()

    def initial_point(seed: int) -> np.ndarray:
        with lock:
            values = point(seed)
        return np.concatenate([np.ravel(values[name]) for name in free]).astype("float64")

    return initial_point
