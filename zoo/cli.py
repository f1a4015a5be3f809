"""The ``zoo`` command: parses options and calls :mod:`zoo.pipeline`; nothing else.

Exit status: 0 all checks passed, 1 a check failed or a fit did not converge, 2 bad input
or options (one line on stderr, nothing written), 3 the environment (a full disk, a
permission, memory, a worker that died: one line), 70 a bug of the zoo (its traceback),
130 interrupted; see :mod:`zoo.errors`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo import interrupts, option_names, progress_lines, stopwatch
from zoo.errors import (EXIT_BAD_INPUT, EXIT_BUG, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, UsageError,
                        ZooError, environment_problem)
from zoo.outputs import writable_folder
from zoo.sampling import (DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TARGET_ACCEPT, DEFAULT_TUNE, SEEDS,
                          SEEDS_TEXT, SamplerConfig)

REPORTS = Path("reports")
#: the commands that replace their --out folder whole (the others add files to it, or refuse
#: a folder that holds any)
REPLACE_OUT = {"run", "report", "sweep", "verify"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"zoo: error: {message}\n")


def _option(convert: Callable[[str], Any], kind: str, within: Callable[[Any], bool],
            bounds: str) -> Callable[[str], Any]:
    """An argparse type: ``convert`` the text (else "is not ``kind``"), then require
    ``within`` (else "must ``bounds``"); argparse prints the reason on one line, exit 2."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not within(value):
            raise argparse.ArgumentTypeError(f"{text!r} must {bounds}")
        return value

    return parse


_positive = _option(int, "a whole number", lambda v: v >= 1, "be at least 1")
_seed = _option(int, "a whole number", lambda v: v in SEEDS, f"be {SEEDS_TEXT}")
_probability = _option(float, "a number", lambda v: 0 < v < 1, "lie between 0 and 1")
#: the fit options' types: their ranges are SamplerConfig's, checked as the API's are
_whole = _option(int, "a whole number", lambda v: True, "")
_number = _option(float, "a number", lambda v: True, "")


def _fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="CSV file with the model's columns (default: the lecture's example)")
    parser.add_argument("--set", dest="set_pairs", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting; repeat for several (see `zoo list --settings`)")
    parser.add_argument("--draws", type=_whole, default=None,
                        help=f"draws per chain (default: the model's, {DEFAULT_DRAWS} unless "
                             "`zoo list --settings` says otherwise)")
    parser.add_argument("--tune", type=_whole, default=None,
                        help="tuning steps (default: " + ", ".join(
                            f"{n} with {s}" for s, n in DEFAULT_TUNE.items()) + ")")
    parser.add_argument("--chains", type=_whole, default=4, help="chains (default 4, at least 2)")
    parser.add_argument("--cores", type=_whole, default=2, help="parallel chains (default 2)")
    parser.add_argument("--seed", type=_whole, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--sampler", choices=["nuts", "smc"], default="nuts")
    parser.add_argument("--nuts-sampler", choices=["pymc", "nutpie"], default=None,
                        help="NUTS implementation (default: the model's choice)")
    parser.add_argument("--target-accept", type=_number, default=None,
                        help="NUTS's target acceptance (default: " + ", ".join(
                            f"{a} with {s}" for s, a in DEFAULT_TARGET_ACCEPT.items()) + ")")
    quiet_option(parser)
    parser.add_argument("--no-cache", action="store_true",
                        help="compute the reference anew, neither reading nor writing the "
                             "reference cache (also: ZOO_CACHE_DIR=off)")


def quiet_option(parser: argparse.ArgumentParser) -> None:
    """``--quiet``, taken by every command that fits (see :func:`main`)."""
    parser.add_argument("--quiet", action="store_true",
                        help="no progress: neither bars nor the lines on stderr")


def _jobs_option(parser: argparse.ArgumentParser) -> None:
    jobs = os.cpu_count() or 1
    parser.add_argument("--jobs", type=_positive, default=jobs,
                        help=f"models fitted at once, each in its own process (default {jobs}, "
                             "the CPUs); results are the same for any number")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command. A tool's options come from the tool's module, imported
    only when ``argv`` (default: the command line) asks for that tool: ``zoo --help`` and the
    other commands do not wait for the machinery a tool drives."""
    parser = _Parser(prog="zoo", description="A zoo of Bayesian models checked against exact answers.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="the models, one line each")
    listing.add_argument("--settings", action="store_true", help="also each model's columns and settings")

    run = commands.add_parser("run", help="fit, compare, print and save posterior + summary")
    run.add_argument("model")
    _fit_options(run)
    run.add_argument("--out", type=Path, help="output folder (default reports/MODEL)")

    verify = commands.add_parser("verify", help="fit and compare; exit 0 only if every check passes")
    verify.add_argument("model", nargs="?")
    verify.add_argument("--all", action="store_true", help="every model, on its lecture example")
    verify.add_argument("--json", action="store_true", help="print exactly one JSON document")
    verify.add_argument("--report", action="store_true", help="also build the HTML report (reports/site)")
    verify.set_defaults(out=None)
    _fit_options(verify)
    _jobs_option(verify)

    report = commands.add_parser("report", help="fit, compare and build the HTML report site")
    report.add_argument("models", nargs="*", metavar="MODEL", help="models to report (default: all)")
    _fit_options(report)
    report.add_argument("--out", type=Path, help="site folder (default reports/site)")
    report.set_defaults(json=False, report=True)
    _jobs_option(report)

    sweep = commands.add_parser("sweep", help="verify once per value of a numeric setting; table + plot")
    sweep.add_argument("model")
    sweep.add_argument("--over", required=True, metavar="KEY=V1,V2,...",
                       help="the setting to sweep and its values, e.g. K=5,20,75,200")
    _fit_options(sweep)
    sweep.add_argument("--out", type=Path, help="output folder (default reports/sweep-MODEL-KEY)")

    sbc = commands.add_parser("sbc", help="simulation-based calibration: fit simulated data, rank the truth")
    sbc.add_argument("model")
    sbc.add_argument("--sims", type=_positive, default=100, help="simulations (default 100)")
    sbc.add_argument("--jobs", type=_positive, default=1, help="worker processes (default 1)")
    sbc.add_argument("--seed", type=_seed, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    sbc.add_argument("--draws", type=_positive, default=500, help="draws per chain per fit (default 500)")
    sbc.add_argument("--tune", type=_positive, default=None,
                     help=f"tuning steps per fit (default {DEFAULT_TUNE['nutpie']}, as verify)")
    sbc.add_argument("--chains", type=_positive, default=2, help="chains per fit (default 2)")
    sbc.add_argument("--target-accept", type=_probability, default=None,
                     help=f"NUTS's target acceptance (default {DEFAULT_TARGET_ACCEPT['nutpie']}, as verify)")
    sbc.add_argument("--adaptation", choices=["diag", "low_rank"], default=None,
                     help="nutpie's mass matrix (default low_rank, as verify)")
    sbc.add_argument("--set", dest="set_pairs", action="append", default=[], metavar="KEY=VALUE",
                     help="a model setting; repeat for several")
    sbc.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://HOST:PORT)")
    sbc.add_argument("--out", type=Path, help="output folder (default reports/sbc-MODEL); a rerun resumes")
    sbc.add_argument("--json", action="store_true", help="print exactly one JSON document")
    quiet_option(sbc)

    tools = {
        "bench": commands.add_parser(
            "bench", help="time the zoo against plain-PyMC baselines, EM, SMC"),
        "power": commands.add_parser(
            "power", help="injected faults: how often verify and SBC catch them"),
        "methods": commands.add_parser(
            "methods", help="every inference method graded against the exact answers (NUTS "
            "backends, SMC, ADVI, Pathfinder, Laplace, MAP)"),
        "posteriordb": commands.add_parser(
            "posteriordb", help="posteriordb both ways: verify zoo models on its posteriors, "
            "export zoo models as its entries"),
    }
    words = sys.argv[1:] if argv is None else argv
    asked = next((word for word in words if not word.startswith("-")), None)
    if asked in tools:
        _tool_options(asked, tools[asked])
    return parser


def _tool_options(command: str, parser: argparse.ArgumentParser) -> None:
    """Add the options of the tool ``command`` to its ``parser``, from the tool's module."""
    if command == "bench":
        from zoo.bench import add_arguments

        add_arguments(parser)
        quiet_option(parser)
    elif command == "power":
        from zoo.power import add_arguments

        add_arguments(parser)
        quiet_option(parser)
    elif command == "methods":
        from zoo.methods.command import add_arguments

        add_arguments(parser, _positive, _seed)
        quiet_option(parser)
    elif command == "posteriordb":  # its verify takes the fit options, --quiet among them
        from zoo.posteriordb.command import add_arguments

        add_arguments(parser, _fit_options, _seed)


def main(argv: list[str] | None = None) -> int:
    """Run the command; progress lines on stderr unless ``--quiet`` (:mod:`zoo.progress_lines`)."""
    stopwatch.count_startup = argv is None  # a command, not a call: its start-up is its own
    try:
        with interrupts.recorded():  # a Ctrl-C swallowed while compiling still stops the run
            try:
                args = build_parser(argv).parse_args(argv)
            except SystemExit as exit_:  # --help, or a usage error already printed on one line
                return int(exit_.code or 0)
            with (progress_lines.shown(not getattr(args, "quiet", False)),
                  option_names.on_command_line()):
                return _dispatch(args)
    except ZooError as err:
        print(f"zoo: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("zoo: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        problem = environment_problem(err)
        if problem is not None:
            print(f"zoo: error: {problem}", file=sys.stderr)
            return EXIT_ENVIRONMENT
        traceback.print_exc()
        print("zoo: internal error: the traceback above is a bug of the zoo; please report it",
              file=sys.stderr)
        return EXIT_BUG


def _default_out(args: argparse.Namespace) -> Path | None:
    """Where the command will write its folder (None: no folder): ``--out`` or the command's
    default, decided here once."""
    quick = getattr(args, "quick", False)
    defaults = {
        "run": lambda: REPORTS / args.model,
        "sweep": lambda: REPORTS / f"sweep-{args.model}-{args.over.partition('=')[0].strip()}",
        "sbc": lambda: REPORTS / f"sbc-{args.model}",
        "power": lambda: REPORTS / ("power-quick" if quick else "power"),
        "methods": lambda: REPORTS / "methods",
        "report": lambda: REPORTS / "site",
        "verify": lambda: REPORTS / "site" if args.report else None,
    }
    default = defaults.get(args.command)
    return getattr(args, "out", None) or (default() if default else None)


def sampler_config(args: argparse.Namespace) -> SamplerConfig:
    """The sampler settings of a command with the fit options (:func:`_fit_options`)."""
    return SamplerConfig(
        draws=args.draws, tune=args.tune, chains=args.chains, cores=args.cores, seed=args.seed,
        sampler=args.sampler, nuts_sampler=args.nuts_sampler, target_accept=args.target_accept,
        progressbar=not args.quiet,
    )


def _dispatch(args: argparse.Namespace) -> int:
    from zoo.registry import all_models, get_model, origins

    if args.command == "list":
        return _list(all_models(), origins(), args.settings)
    out = _default_out(args)
    if out is not None:  # every command below writes where args.out says
        args.out = writable_folder(out, replaces=args.command in REPLACE_OUT,
                                   inputs=[getattr(args, "data", None)])
    if getattr(args, "no_cache", False):  # read by zoo.reference_cache, here and in workers
        os.environ["ZOO_CACHE_DIR"] = "off"
    if getattr(args, "data", None) and Path(args.data).is_dir():  # read_csv would say "no such file"
        raise UsageError(f"--data {args.data}: is a folder; give a CSV file")
    if args.command == "sbc":
        from zoo.sbc import sbc_command

        model = get_model(args.model)
        model.parse_settings(args.set_pairs, user_data=False)  # SBC fits simulated example data
        return sbc_command(model, args)
    if args.command == "bench":
        from zoo.bench import bench_command

        return bench_command(args, REPORTS)
    if args.command == "power":
        from zoo.power import power_command

        return power_command(args)
    if args.command == "methods":
        from zoo.methods.command import methods_command

        return methods_command(args)
    if args.command == "posteriordb":
        from zoo.posteriordb.command import posteriordb_command

        return posteriordb_command(args, sampler_config)
    config = sampler_config(args)
    if args.command == "run":
        return _run(get_model(args.model), args, config)
    if args.command == "sweep":
        from zoo.sweep import sweep_command

        return sweep_command(get_model(args.model), args, config)
    if args.command == "report":
        args.all = not args.models
        if len(args.models) != 1 and (args.data or args.set_pairs):
            raise UsageError("--data and --set apply to one model; name exactly one")
        chosen = [get_model(name) for name in args.models] or list(all_models().values())
        return _verify(chosen, args, config)
    return _verify(models_asked(args, "verify"), args, config)


def models_asked(args: argparse.Namespace, command: str) -> list:
    """The models of a command that takes a MODEL or --all (verify, methods); UsageError for
    both, neither, or --data / --set with --all."""
    from zoo.registry import all_models, get_model

    if args.all and args.model:
        raise UsageError(f"{command} takes a MODEL or --all, not both")
    if not (args.all or args.model):
        raise UsageError(f"{command} needs a MODEL or --all (zoo list shows the models)")
    if args.all and (args.data or args.set_pairs):
        raise UsageError("--data and --set apply to one model; they cannot go with --all")
    return list(all_models().values()) if args.all else [get_model(args.model)]


#: what ``zoo list --settings`` adds to a setting that applies only with or without --data
_ONLY = {"example": " (only without --data)", "data": " (only with --data)"}


def _list(models, origins, with_settings: bool) -> int:
    """One line per model; one from another package says which."""
    from zoo.registry import BUILT_IN

    width = max(map(len, models))
    for name, model in models.items():
        origin = f" (from {origins[name]})" if origins[name] != BUILT_IN else ""
        print(f"{name:<{width}}  {model.title}{origin}")
        if with_settings:
            for column in model.columns:
                print(f"{'':<{width}}    column {column.name}: {column.help}")
            for key, setting in model.settings.items():
                print(f"{'':<{width}}    --set {key}={setting.default}: {setting.help}"
                      f"{_ONLY.get(setting.applies_to, '')}")
            if model.draws != DEFAULT_DRAWS:
                print(f"{'':<{width}}    --draws {model.draws} by default")
    return 0


def _run(model, args, config) -> int:
    from zoo import api
    from zoo.report import console

    result = api.verify(model, args.data, args.set_pairs, config=config)
    interrupts.check()
    print(console(result))
    written = api.write(result, args.out)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0 if result.passed else 1


def _verify(models, args, config) -> int:
    from zoo import api
    from zoo.report import console
    from zoo.site import build_site, progress

    show_progress = not (args.quiet or args.json)
    results = []
    runs = api.verify_many(models, args.data, args.set_pairs, jobs=args.jobs, config=config)
    for result in progress(runs, "models", show_progress and len(models) > 1, total=len(models)):
        interrupts.check()
        results.append(result)
        if not args.json:
            print(console(result), end="\n\n", flush=True)
    passed = all(r.passed for r in results)
    if args.json:
        document = results[0].to_dict() if len(results) == 1 and not args.all else {
            "models": [r.to_dict() for r in results], "passed": passed}
        print(json.dumps(document, indent=1, default=float))
    else:
        print(f"{sum(r.passed for r in results)}/{len(results)} models passed")
    if args.report:
        site = build_site(results, args.out, show_progress=show_progress)
        print(f"wrote {site.index} (the report took {sum(site.seconds.values()):.1f} s)",
              file=sys.stderr if args.json else sys.stdout)
    return 0 if passed else 1
