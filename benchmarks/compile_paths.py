"""How long nutpie takes to compile a zoo model, and then to sample it, by compile path.

    python -m zoo.benchmarks.compile_paths MODEL [--backend numba|jax] [--no-sampling]
    NUMBA_OPT=0 python -m zoo.benchmarks.compile_paths gmm      # LLVM's optimisation level

Prints the imports, the model's build, nutpie's two steps of compiling (PyTensor's functions,
then Numba's C callbacks, each timed) and 4 x 1,000 draws with nutpie's defaults (tune 400,
diagonal mass matrix, 2 threads). Run it with a fresh ``PYTENSOR_FLAGS=base_compiledir=DIR``
and ``NUMBA_CACHE_DIR`` to see a cold cache. What the zoo's compile path was chosen from
(docs/benchmarks.md, "Targets").
"""

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402

import numba  # noqa: E402
import nutpie  # noqa: E402
import nutpie.compile_pymc as nutpie_compile  # noqa: E402

from zoo.core.registry import get_model  # noqa: E402


def timed(label: str, function):
    """``function`` wrapped to print how long each call takes."""
    def wrapper(*args, **kwargs):
        begin = time.perf_counter()
        result = function(*args, **kwargs)
        print(f"  {label} {time.perf_counter() - begin:.2f} s", flush=True)
        return result
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--backend", choices=["numba", "jax"], default="numba")
    parser.add_argument("--no-sampling", action="store_true")
    args = parser.parse_args()
    print(f"imports {time.perf_counter() - STARTED:.2f} s")
    model = get_model(args.model)
    settings = model.parse_settings([])
    begin = time.perf_counter()
    pymc_model = model.build(model.load(None, settings), settings)
    print(f"build {time.perf_counter() - begin:.2f} s")
    nutpie_compile._make_functions = timed("PyTensor functions", nutpie_compile._make_functions)
    cfunc = numba.cfunc
    numba.cfunc = lambda *a, **k: timed("Numba C callback", cfunc(*a, **k))
    options = {"gradient_backend": "jax"} if args.backend == "jax" else {}
    begin = time.perf_counter()
    compiled = nutpie.compile_pymc_model(pymc_model, backend=args.backend, **options)
    print(f"compile {time.perf_counter() - begin:.2f} s")
    if not args.no_sampling:
        begin = time.perf_counter()
        nutpie.sample(compiled, draws=1000, tune=400, chains=4, cores=2, progress_bar=False, seed=1)
        print(f"sampling {time.perf_counter() - begin:.2f} s")


if __name__ == "__main__":
    main()
