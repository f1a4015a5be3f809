"""The ``zoo methods`` command: options, checks before any fitting, printing and writing."""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo.core import progress_lines
from zoo.core.arguments import positive, quiet_option, seed_type
from zoo.core.outputs import REPORTS
from zoo.core.registry import models_asked
from zoo.core.sampling import DEFAULT_SEED, SamplerConfig
from zoo.tools.methods import method_names, run_methods
from zoo.tools.methods.catalog import METHODS
from zoo.tools.methods.output import console, model_document, write_model

DEFAULT_OUT = REPORTS / "methods"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo methods`` options."""
    parser.add_argument("model", nargs="?")
    parser.add_argument("--all", action="store_true", help="every model, on its lecture example")
    parser.add_argument("--methods", metavar="LIST",
                        help=f"comma-separated, from {','.join(METHODS)} (default: all)")
    parser.add_argument("--data", help="CSV file with the model's columns (default: the lecture's example)")
    parser.add_argument("--set", dest="set_pairs", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting; repeat for several")
    parser.add_argument("--draws", type=positive, default=1000, help="draws per chain (default 1000)")
    parser.add_argument("--chains", type=positive, default=4, help="chains (default 4)")
    parser.add_argument("--seed", type=seed_type, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")
    parser.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_OUT})")
    quiet_option(parser)


def chosen_models(args: argparse.Namespace) -> list:
    """The models asked for; UsageError for a bad combination, before any work."""
    models = models_asked(args, "methods")
    for model in models:  # bad settings or data are refused before the first method runs
        settings = model.parse_settings(args.set_pairs, user_data=args.data is not None)
        if args.data:
            model.load(args.data, settings)
    return models


def methods_command(args: argparse.Namespace) -> int:
    """Run, print (a table per model, or one JSON document) and write into ``args.out``.
    Exit 0 whatever the grades: a biased approximation is a finding, not a failure."""
    names = method_names(args.methods)
    models = chosen_models(args)
    config = SamplerConfig(draws=args.draws, chains=args.chains, seed=args.seed)
    start = time.perf_counter()
    documents = []
    for model in models:
        result = run_methods(model, args.data, args.set_pairs, names, config,
                             report=_progress(len(names)))
        documents.append(model_document(result))
        written = write_model(result, args.out)
        if not args.json:
            print(console(result), end="\n\n", flush=True)
            print(f"wrote {', '.join(str(p) for p in written)}", end="\n\n", flush=True)
    seconds = time.perf_counter() - start
    if args.json:
        doc = documents[0] if not args.all else {"models": documents, "seconds": seconds}
        print(json.dumps(doc, indent=1, default=float))
    else:
        print(f"{len(models)} model(s), {len(names)} method(s) each, in {seconds:.0f} s")
    return 0


def _progress(total: int) -> Callable[[str, Any], None]:
    """``run_methods``' report: a progress line as each of a model's ``total`` methods ends."""
    done = itertools.count(1)

    def report(model: str, run) -> None:
        progress_lines.say(f"{model}: method {next(done)}/{total} ({run.method.name}) done, "
                           f"{run.grade.grade}, {run.outcome.total_seconds:.1f} s")

    return report
