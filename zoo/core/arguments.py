"""The command line's shared options, each checked as argparse reads it (a bad one is one line
and exit 2): the fit options of ``run``, ``verify``, ``report`` and ``sweep``, the checked
types the tools' own options use."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from zoo.core.sampling import (DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TARGET_ACCEPT, DEFAULT_TUNE, SEEDS,
                               SEEDS_TEXT, SamplerConfig)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"zoo: error: {message}\n")


def checked_type(convert: Callable[[str], Any], kind: str, within: Callable[[Any], bool],
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


positive = checked_type(int, "a whole number", lambda v: v >= 1, "be at least 1")
seed_type = checked_type(int, "a whole number", lambda v: v in SEEDS, f"be {SEEDS_TEXT}")
probability = checked_type(float, "a number", lambda v: 0 < v < 1, "lie between 0 and 1")
#: the fit options' types: their ranges are SamplerConfig's, checked as the API's are
whole = checked_type(int, "a whole number", lambda v: True, "")
number = checked_type(float, "a number", lambda v: True, "")


def fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="CSV file with the model's columns (default: the lecture's example)")
    parser.add_argument("--set", dest="set_pairs", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting; repeat for several (see `zoo list --settings`)")
    parser.add_argument("--draws", type=whole, default=None,
                        help=f"draws per chain (default: the model's, {DEFAULT_DRAWS} unless "
                             "`zoo list --settings` says otherwise)")
    parser.add_argument("--tune", type=whole, default=None,
                        help="tuning steps (default: " + ", ".join(
                            f"{n} with {s}" for s, n in DEFAULT_TUNE.items()) + ")")
    parser.add_argument("--chains", type=whole, default=4, help="chains (default 4, at least 2)")
    parser.add_argument("--cores", type=whole, default=2, help="parallel chains (default 2)")
    parser.add_argument("--seed", type=whole, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--sampler", choices=["nuts", "smc"], default="nuts")
    parser.add_argument("--nuts-sampler", choices=["pymc", "nutpie"], default=None,
                        help="NUTS implementation (default: the model's choice)")
    parser.add_argument("--target-accept", type=number, default=None,
                        help="NUTS's target acceptance (default: " + ", ".join(
                            f"{a} with {s}" for s, a in DEFAULT_TARGET_ACCEPT.items()) + ")")
    quiet_option(parser)
    parser.add_argument("--no-cache", action="store_true",
                        help="compute the reference anew, neither reading nor writing the "
                             "reference cache (also: ZOO_CACHE_DIR=off)")


def quiet_option(parser: argparse.ArgumentParser) -> None:
    """``--quiet``, taken by every command that fits (see :func:`zoo.cli.main`)."""
    parser.add_argument("--quiet", action="store_true",
                        help="no progress: neither bars nor the lines on stderr")


def jobs_option(parser: argparse.ArgumentParser) -> None:
    jobs = os.cpu_count() or 1
    parser.add_argument("--jobs", type=positive, default=jobs,
                        help=f"models fitted at once, each in its own process (default {jobs}, "
                             "the CPUs); results are the same for any number")


def sampler_config(args: argparse.Namespace) -> SamplerConfig:
    """The sampler settings of a command with the fit options (:func:`fit_options`)."""
    return SamplerConfig(
        draws=args.draws, tune=args.tune, chains=args.chains, cores=args.cores, seed=args.seed,
        sampler=args.sampler, nuts_sampler=args.nuts_sampler, target_accept=args.target_accept,
        progressbar=not args.quiet,
    )
