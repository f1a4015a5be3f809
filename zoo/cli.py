"""The ``zoo`` command: parses options and calls :mod:`zoo.core.pipeline`; nothing else.

Exit status: 0 all checks passed, 1 a check failed or a fit did not converge, 2 bad input
or options (one line on stderr, nothing written), 3 the environment (a full disk, a
permission, memory, a worker that died: one line), 70 a bug of the zoo (its traceback),
130 interrupted; see :mod:`zoo.core.errors`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

from zoo.core import interrupts, option_names, progress_lines, stopwatch
from zoo.core.arguments import OneLineParser, fit_options, jobs_option, sampler_config
from zoo.core.errors import (EXIT_BAD_INPUT, EXIT_BUG, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, UsageError,
                             ZooError, environment_problem)
from zoo.core.outputs import REPORTS, SITE, writable_folder
from zoo.core.sampling import DEFAULT_DRAWS

#: the tools whose module adds its own options (``add_arguments``) and runs its command
#: (``NAME_command``), imported only when the command line names the tool
TOOLS = {
    "sweep": ("zoo.tools.sweep", "verify once per value of a numeric setting; table + plot"),
    "sbc": ("zoo.tools.sbc", "simulation-based calibration: fit simulated data, rank the truth"),
    "bench": ("zoo.tools.bench.command", "time the zoo against plain-PyMC baselines, EM, SMC"),
    "power": ("zoo.tools.power", "injected faults: how often verify and SBC catch them"),
    "methods": ("zoo.tools.methods.command", "every inference method graded against the exact "
                "answers (NUTS backends, SMC, ADVI, Pathfinder, Laplace, MAP)"),
    "posteriordb": ("zoo.tools.posteriordb.command", "posteriordb both ways: verify zoo models on "
                    "its posteriors, export zoo models as its entries"),
}
#: the commands that replace their --out folder whole (the others add files to it, or refuse
#: a folder that holds any)
REPLACE_OUT = {"run", "report", "sweep", "verify"}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command. A tool's options come from the tool's module, imported
    only when ``argv`` (default: the command line) asks for that tool: ``zoo --help`` and the
    other commands do not wait for the machinery a tool drives."""
    parser = OneLineParser(prog="zoo", description="A zoo of Bayesian models checked against exact answers.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    listing = commands.add_parser("list", help="the models, one line each")
    listing.add_argument("--settings", action="store_true", help="also each model's columns and settings")

    run = commands.add_parser("run", help="fit, compare, print and save posterior + summary")
    run.add_argument("model")
    fit_options(run)
    run.add_argument("--out", type=Path, help="output folder (default reports/MODEL)")

    verify = commands.add_parser("verify", help="fit and compare; exit 0 only if every check passes")
    verify.add_argument("model", nargs="?")
    verify.add_argument("--all", action="store_true", help="every model, on its lecture example")
    verify.add_argument("--json", action="store_true", help="print exactly one JSON document")
    verify.add_argument("--report", action="store_true", help="also build the HTML report (reports/site)")
    verify.set_defaults(out=None)
    fit_options(verify)
    jobs_option(verify)

    report = commands.add_parser("report", help="fit, compare and build the HTML report site")
    report.add_argument("models", nargs="*", metavar="MODEL", help="models to report (default: all)")
    fit_options(report)
    report.add_argument("--out", type=Path, help="site folder (default reports/site)")
    report.set_defaults(json=False, report=True)
    jobs_option(report)

    tools = {name: commands.add_parser(name, help=text) for name, (_, text) in TOOLS.items()}
    words = sys.argv[1:] if argv is None else argv
    asked = next((word for word in words if not word.startswith("-")), None)
    if asked in tools:
        _tool_options(asked, tools[asked])
    return parser


def _tool_options(command: str, parser: argparse.ArgumentParser) -> None:
    """Add the options of the tool ``command`` to its ``parser``, from the tool's module."""
    importlib.import_module(TOOLS[command][0]).add_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    """Run the command; progress lines on stderr unless ``--quiet`` (:mod:`zoo.core.progress_lines`)."""
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
        "report": lambda: SITE,
        "verify": lambda: SITE if args.report else None,
    }
    default = defaults.get(args.command)
    return getattr(args, "out", None) or (default() if default else None)


def _dispatch(args: argparse.Namespace) -> int:
    from zoo.core.registry import all_models, get_model, models_asked, origins

    if args.command == "list":
        return _list(all_models(), origins(), args.settings)
    out = _default_out(args)
    if out is not None:  # every command below writes where args.out says
        args.out = writable_folder(out, replaces=args.command in REPLACE_OUT,
                                   inputs=[getattr(args, "data", None)])
    if getattr(args, "no_cache", False):  # read by zoo.core.reference_cache, here and in workers
        os.environ["ZOO_CACHE_DIR"] = "off"
    if getattr(args, "data", None) and Path(args.data).is_dir():  # read_csv would say "no such file"
        raise UsageError(f"--data {args.data}: is a folder; give a CSV file")
    if args.command in TOOLS:  # each tool's module runs its command: NAME_command(args)
        return getattr(importlib.import_module(TOOLS[args.command][0]), f"{args.command}_command")(args)
    config = sampler_config(args)
    if args.command == "run":
        return _run(get_model(args.model), args, config)
    if args.command == "report":
        args.all = not args.models
        if len(args.models) != 1 and (args.data or args.set_pairs):
            raise UsageError("--data and --set apply to one model; name exactly one")
        chosen = [get_model(name) for name in args.models] or list(all_models().values())
        return _verify(chosen, args, config)
    return _verify(models_asked(args, "verify"), args, config)


#: what ``zoo list --settings`` adds to a setting that applies only with or without --data
_ONLY = {"example": " (only without --data)", "data": " (only with --data)"}


def _list(models, origins, with_settings: bool) -> int:
    """One line per model; one from another package says which."""
    from zoo.core.registry import BUILT_IN

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
    from zoo.report.text import console

    result = api.verify(model, args.data, args.set_pairs, config=config)
    interrupts.check()
    print(console(result))
    written = api.write(result, args.out)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0 if result.passed else 1


def _verify(models, args, config) -> int:
    from zoo import api
    from zoo.report.text import console
    from zoo.report.site import build_site, progress

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
    if args.report:  # the tools' sections import the tools: only now, after the fits
        from zoo.tools.sections import site_sections

        site = build_site(results, args.out, show_progress=show_progress,
                          sections=site_sections(args.out.parent))
        print(f"wrote {site.index} (writing the site took {sum(site.seconds.values()):.1f} s, after the fits)",
              file=sys.stderr if args.json else sys.stdout)
    return 0 if passed else 1
