"""``zoo posteriordb list|verify|export``: arguments and what each prints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zoo.core.arguments import fit_options, sampler_config, seed_type
from zoo.core.compare import round_to_mcse
from zoo.core.errors import UsageError
from zoo.core.registry import all_models, get_model
from zoo.core.sampling import DEFAULT_SEED, SamplerConfig
from zoo.report.text import align_columns
from zoo.report.text import console as zoo_console
from zoo.tools.posteriordb import layout
from zoo.tools.posteriordb.export import export
from zoo.tools.posteriordb.verify import mapping_for, prepare, run_prepared


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo posteriordb`` actions and their options (verify's fit options are the other
    commands')."""
    actions = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
    listing = actions.add_parser("list", help="which posteriors of a posteriordb map to zoo models")
    listing.add_argument("--db", required=True, type=Path, help="a posteriordb folder")
    verify = actions.add_parser("verify", help="fit the zoo model of a posteriordb posterior; "
                                "check it against posteriordb's reference draws and the zoo's answer")
    verify.add_argument("posterior", help="a posterior's name (Rate_1, low_dim_gauss_mix, or the full name)")
    verify.add_argument("--db", required=True, type=Path, help="a posteriordb folder")
    verify.add_argument("--json", action="store_true", help="print exactly one JSON document")
    fit_options(verify)
    export = actions.add_parser("export", help="write zoo models as posteriordb entries with exact "
                                "reference draws")
    export.add_argument("model", nargs="?")
    export.add_argument("--all", action="store_true", help="every model")
    export.add_argument("--out", type=Path, required=True, help="a new (or empty) folder")
    export.add_argument("--seed", type=seed_type, default=DEFAULT_SEED,
                        help=f"seed of the reference draws (default {DEFAULT_SEED})")


#: parameters ``list`` names per posterior; the rest are counted
LISTED = 5


def posteriordb_command(args: argparse.Namespace) -> int:
    if args.action == "list":
        return list_posteriors(args.db)
    if args.action == "verify":
        return verify_command(args, sampler_config(args))
    return export_command(args)


def list_posteriors(db: Path) -> int:
    root = layout.database_root(db)
    rows = [["posterior", "reference draws", "maps to"]]
    for name in layout.posterior_names(root):
        posterior = layout.posterior_info(root, name)
        draws = "yes" if posterior.get("reference_posterior_name") else "none"
        try:
            _, mapping = mapping_for(root, name)
        except UsageError as why:
            rows.append([name, draws, f"no: {str(why).partition(': ')[2]}"])
            continue
        pairs = [f"{theirs} as {ours}" for theirs, ours in mapping.parameters.items()]
        checked = (", ".join(pairs[:LISTED]) + (f", ... ({len(pairs)} in all)" if pairs[LISTED:] else "")
                   or "the zoo's own checks only")
        unchecked = (f"; not checked: {', '.join(mapping.unmapped)}" if mapping.unmapped else "")
        rows.append([name, draws, f"{mapping.describe()} ({checked}{unchecked})"])
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    for row in rows:
        print(f"{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]}")
    return 0


def verify_command(args: argparse.Namespace, config: SamplerConfig) -> int:
    if args.data or args.set_pairs:
        raise UsageError("posteriordb verify takes no --data or --set: the posterior's data and "
                         "priors decide them (zoo posteriordb list shows the settings)")
    prepared = prepare(args.posterior, args.db)  # every one-line refusal before fitting
    found = run_prepared(prepared, config)
    if args.json:
        print(json.dumps(found.to_dict(), indent=1, default=float))
    else:
        print(console(found))
    return 0 if found.passed else 1


def console(found) -> str:
    mapping, checks = found.prepared.mapping, found.checks
    lines = [f"posteriordb {found.prepared.name} -> {mapping.describe()}", ""]
    if checks is not None:
        rows = [["check", "posteriordb", "its mcse", "posterior", "mcse", "z", ""]]
        for row, error in zip(checks.itertuples(), checks.attrs["reference_errors"]):
            rows.append([row.name, round_to_mcse(row.reference, error), f"{error:.2g}",
                         round_to_mcse(row.estimate, row.mcse), f"{row.mcse:.2g}",
                         f"{row.z:+.2f}", "ok" if row.passed else "FAIL"])
        lines += ["against posteriordb's reference draws (their MCSE by ArviZ from their "
                  f"chains), |z| <= {checks.attrs['z_bound']:.2g}:", align_columns(rows), ""]
    unconverged = "" if found.result.diagnostics.converged else "; the chains did not converge"
    lines += [zoo_console(found.result), "", *(f"note: {n}" for n in found.notes),
              f"{'PASS' if found.passed else 'FAIL'}: worst |z| {found.worst_z():.2f} "
              f"over {len(found.result.checks) + (0 if checks is None else len(checks))} checks"
              f"{unconverged}"]
    return "\n".join(lines)


def export_command(args: argparse.Namespace) -> int:
    if args.all == bool(args.model):
        raise UsageError("export takes a MODEL or --all (zoo list shows the models)")
    models = list(all_models().values()) if args.all else [get_model(args.model)]
    entries = export(models, args.out, args.seed)
    failed = [(e.posterior, e.failed_checks()) for e in entries if e.failed_checks()]
    for entry in entries:
        reference = ("no reference posterior" if entry.checks is None else
                     "reference draws 10 x 1000, checks: " + ", ".join(
                         f"{k} {'ok' if v else 'FAILED'}" for k, v in entry.checks.items()))
        print(f"{entry.posterior}: {len(entry.paths())} files; {reference}")
        for note in entry.notes:
            print(f"  note: {note}")
    if failed:
        print("nothing written: the reference draws of " + "; ".join(
            f"{name} failed {', '.join(checks)}" for name, checks in failed))
        return 1
    print(f"wrote {sum(len(e.paths()) for e in entries)} files to "
          f"{args.out / layout.DB_FOLDER}")
    return 0
