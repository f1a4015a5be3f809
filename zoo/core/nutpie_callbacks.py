"""nutpie's C callbacks (log density and gradient; the draws' expansion) compiled so that
numba can keep them on disk: a warm process loads them instead of compiling them again.

nutpie wraps PyTensor's numba functions in C callbacks that capture the function and the
data's layout in closures; numba keys its disk cache on a closure's pickled contents, which
name a dispatcher by a random id, so the callbacks never load and cost most of a warm run
(numba typing and LLVM). Here each callback is generated source with its sizes written in
and the data's addresses read from nutpie's ``user_data`` record, passed as an argument. It
is cached through PyTensor's own numba cache (same folder, same locator), under a key of its
source, this module's name and PyTensor's key of the function it calls; a function PyTensor
could not key is wrapped uncached. An entry numba cannot load (damaged, or written when this
module had another name: numba imports the module named in the entry, and before the key held
the name, every warm run in a cache from before the move to ``zoo.core`` compiled again, 4.6 s
against 0.65 s for single-coin) is passed over for a second key, where the callback is
compiled and kept; only when that fails too is it compiled uncached. The model otherwise is nutpie's own (``CompiledPyMCModel``), built as
``nutpie.compile_pymc_model`` builds it: this leans on nutpie's internals (0.16).
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

#: part of every cache key: raise it when the callbacks change in a way their source does not show
CACHE_VERSION = 3

_LOGP = """
def zoo_logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        words = carray(user_data_, ({n_words},), np.uint64)
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_dim},))
        logp = carray(logp_, ())
{arrays}
        logp_val, grad = inner(x{arguments})
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND = """
def zoo_expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        words = carray(user_data_, ({n_words},), np.uint64)
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_expanded},))
{arrays}
        (values,) = inner(x{arguments})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def compile_model(model):
    """``nutpie.compile_pymc_model(model)`` with disk-cacheable callbacks. Its initial-point
    function is a placeholder: the caller gives the model's own (``zoo.core.compile_cache``)."""
    from nutpie import compile_pymc as nutpie_pymc

    n_dim, n_expanded, logp_pt, expand_pt, initial_point, shape_info, reparameterized = (
        nutpie_pymc._make_functions(model, mode="NUMBA", compute_grad=True, join_expanded=True,
                                    pymc_initial_point_fn=_no_initial_point))
    shared_data, shared_keys = {}, {}
    for variable in dict.fromkeys([*logp_pt.get_shared(), *expand_pt.get_shared()]):
        key = f"s{len(shared_keys)}"
        shared_data[key] = np.array(variable.get_value(), order="C", copy=True)
        shared_data[key].flags.writeable = False
        shared_keys[variable] = key
    user_data = nutpie_pymc.make_user_data(shared_keys, shared_data)
    slots = _slots(user_data.dtype, shared_keys)
    sizes = {"n_dim": n_dim, "n_expanded": n_expanded, "n_words": user_data.dtype.itemsize // 8}
    logp = callback("zoo_logp", logp_pt, slots, sizes)
    expand = callback("zoo_expand", expand_pt, slots, sizes)
    dims, coords = nutpie_pymc._prepare_dims_and_coords(model, shape_info, reparameterized)
    return nutpie_pymc.CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp, compiled_expand_func=expand, initial_point_func=initial_point,
        shared_data=shared_data, shared_var_keys=shared_keys, user_data=user_data,
        n_expanded=n_expanded, shape_info=shape_info, logp_func=logp_pt, expand_func=expand_pt,
        reparameterized_names=reparameterized)


def _no_initial_point(seed):
    raise RuntimeError("zoo.core.nutpie_callbacks: the model's initial-point function was not set")


def _slots(record: np.dtype, shared_keys: dict) -> dict:
    """Each shared variable's place in nutpie's ``user_data`` record, in 8-byte words: its
    data's address, its shape, and its dtype."""
    base = record.fields["shared"][1]
    block = record["shared"]

    def word(part: str, key: str) -> int:
        offset = base + block.fields[part][1] + block[part].fields[key][1]
        assert offset % 8 == 0
        return offset // 8

    return {variable: (word("data", key), word("shape", key), variable.type.ndim,
                       np.dtype(variable.type.dtype).type.__name__)
            for variable, key in shared_keys.items()}


def _signature(name: str):
    """The C signature nutpie calls ``name`` with: sizes, then pointers, last ``user_data``."""
    from numba import types

    sizes = {"zoo_logp": 1, "zoo_expand": 2}[name]
    doubles = [types.CPointer(types.double)] * (4 - sizes)
    return types.int64(*[types.uint64] * sizes, *doubles, types.voidptr)


def callback(name: str, function, slots: dict, sizes: dict):
    """The C callback ``name`` ("zoo_logp" or "zoo_expand") around PyTensor's compiled
    ``function``, cached on disk when PyTensor keyed ``function`` (else compiled every time,
    as nutpie does); ``slots`` from :func:`_slots`, ``sizes`` the numbers written in."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    template = {"zoo_logp": _LOGP, "zoo_expand": _EXPAND}[name]
    signature = _signature(name)

    arrays, arguments = [], ""
    for index, variable in enumerate(function.get_shared()):
        data, shape, ndim, dtype = slots[variable]
        dims = "".join(f"int(words[{shape + i}]), " for i in range(ndim))
        arrays.append(f"        a{index} = carray(as_pointer(words[{data}]), ({dims}), np.{dtype})")
        arguments += f", a{index}"
    source = template.format(arrays="\n".join(arrays) or "        pass", arguments=arguments,
                             **sizes)
    inner = function.vm.jit_fn
    inner_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    namespace = {"__name__": __name__, "np": np, "carray": numba.carray,
                 "as_pointer": address_as_void_pointer, "inner": inner}
    with warnings.catch_warnings():  # a cache folder numba cannot write: compiled, not kept
        warnings.simplefilter("ignore", numba.NumbaWarning)
        if inner_key is not None:
            key = hashlib.sha256(f"{CACHE_VERSION}\n{__name__}\n{source}\n{inner_key}".encode())
            for attempt in (key.hexdigest(), hashlib.sha256(key.digest()).hexdigest()):
                python = compile_numba_function_src(source, name, namespace, cache_key=attempt)
                try:
                    return numba.cfunc(signature, cache=True)(python)
                except Exception:  # an entry numba cannot load: the next key (docstring)
                    continue
        return numba.cfunc(signature)(compile_numba_function_src(source, name, namespace))
