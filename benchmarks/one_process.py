"""Fit several models back to back in ONE process, the zoo's way or the baselines' way.

    python -m zoo.benchmarks.one_process zoo|baseline [MODEL ...] [--seed N] [--cores N|default]
                                         [--draws N] [--tune N] [--data CSV] [--again]

One interpreter and one compile cache for all the models, as a user fitting them in a notebook
would have: the fair opponent for ``zoo verify --all``. The zoo's side is ``zoo.core.pipeline.run``
(what ``verify`` runs, without its console output); the baseline's side is each model's
``zoo.benchmarks.baseline_*.fit``. Prints one JSON document: the seconds spent importing, each
model's figures (compile, sampling, the zoo's reference and diagnostics, ESS per second and per
gradient evaluation, divergences, stuck chains) and the seconds spent inside the process, so
that the caller's wall time minus it is the interpreter's start. ``--again`` (the zoo's side)
verifies each model a second time right after the first, its figures under ``again``: a
session's second verify (zoo bench's fixed cost per model).
"""

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402  (imports are timed: they are part of what a user waits for)
import importlib  # noqa: E402
import json  # noqa: E402

import pandas as pd  # noqa: E402

from zoo.benchmarks.baseline_common import Timer, efficiency  # noqa: E402
from zoo.core import deferred  # noqa: E402
from zoo.core.pipeline import run  # noqa: E402
from zoo.core.registry import all_models, get_model  # noqa: E402
from zoo.core.sampling import DEFAULT_SEED, SamplerConfig  # noqa: E402

deferred.load(deferred.az, deferred.pm)  # what run() loads before its first model: imports too
IMPORTED = time.perf_counter()


def zoo_fit(name: str, args: argparse.Namespace) -> dict:
    """``zoo verify NAME``'s work, timed by the pipeline's own clock."""
    sizes = {k: v for k, v in (("draws", args.draws), ("tune", args.tune)) if v}
    config = SamplerConfig(seed=args.seed, cores=args.cores or SamplerConfig.cores, **sizes)
    result = run(get_model(name), args.data, config=config)
    seconds = result.seconds
    return {
        "density_check": seconds["density_check"],
        "reference": seconds["reference"],
        "compile": seconds["fit"] - seconds["sampling_total"],
        "sampling": seconds["sampling"],
        "sampling_total": seconds["sampling_total"],
        "diagnostics": seconds["diagnostics"],
        "total": seconds["total"],
        **efficiency(result.fit.idata, result.diagnostics, seconds["sampling"]),
        "passed": result.passed,
    }


def baseline_fit(name: str, args: argparse.Namespace) -> dict:
    """The plain-PyMC script's fit, with the draws the zoo's model takes (the same work on both
    sides); ``--cores default`` leaves ``cores`` to PyMC."""
    options = {"random_seed": args.seed, "draws": args.draws or get_model(name).draws}
    options.update({k: v for k, v in (("tune", args.tune), ("cores", args.cores)) if v})
    module = importlib.import_module(f"zoo.benchmarks.baseline_{name.replace('-', '_')}")
    data = [pd.read_csv(args.data)] if args.data else []
    return module.fit(Timer(options), *data)


SIDES = {"zoo": zoo_fit, "baseline": baseline_fit}


def cores(text: str) -> int | None:
    return None if text == "default" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=SIDES)
    parser.add_argument("models", nargs="*", help="default: every model, in the registry's order")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--cores", type=cores, default=SamplerConfig.cores,
                        help="threads for the chains (default the zoo's); 'default': PyMC's choice")
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--data", help="a CSV for the one model named (the scaling bench)")
    parser.add_argument("--again", action="store_true",
                        help="the zoo's side: verify each model a second time, under 'again'")
    args = parser.parse_args()
    if args.again and args.side != "zoo":
        parser.error("--again measures the zoo's session cache: the zoo's side only")
    rows = {}
    for name in args.models or list(all_models()):
        rows[name] = SIDES[args.side](name, args)
        if args.again:
            rows[name]["again"] = zoo_fit(name, args)
    print(json.dumps({"side": args.side, "cores": args.cores, "imports": IMPORTED - STARTED,
                      "inside": time.perf_counter() - STARTED, "models": rows}, default=float))


if __name__ == "__main__":
    main()
