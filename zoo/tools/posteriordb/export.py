"""``zoo posteriordb export``: zoo models, on their bundled data and default settings, written
as posteriordb entries with reference posteriors drawn from their exact answers.

Per model (names ``{slug}_data``, ``{slug}_model``, posterior ``{slug}_data-{slug}_model``):
the posterior JSON, the model info, a PyMC script and Stan code where there is one
(:mod:`zoo.tools.posteriordb.code`), the data JSON (zipped) and its info, and, when the model has an
exact sampler (``ZooModel.reference_draws``), 10 chains x 1000 independent draws (zipped, keyed
``theta[1]``), their info file with the definition's diagnostics and checks
(:mod:`zoo.tools.posteriordb.definition`), and posteriordb's summary statistics (mean and mean square
with their MCSE). A model without an exact sampler (gmm: importance resampling is not exact) is
written without a reference posterior, and its posterior JSON says so in ``comments``.

Everything is computed before anything is written; the folder is written beside ``--out`` and
renamed into place whole, and an --out that already holds files is refused, so an export never
merges into, or half-replaces, an existing database.
"""

from __future__ import annotations

import datetime
import platform
import shutil
import uuid
import zlib
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.errors import UsageError
from zoo.core.model import ZooModel
from zoo.tools.posteriordb import definition, layout
from zoo.tools.posteriordb.code import model_code, pymc_script

CHAINS, DRAWS = 10, 1000
ADDED_BY = "bayes zoo (zoo posteriordb export)"
STAN_VERSION = ">=2.33.0"  # array syntax, as posteriordb's own models
NOT_HMC = ("the draws are independent and exact, not HMC: E-FMI and divergent transitions do "
           "not apply and are not among the checks made")


@dataclass
class Entry:
    """One model's posteriordb entry, computed and not yet written: path -> content."""

    model: ZooModel
    posterior: str
    json_files: dict[str, Any] = field(default_factory=dict)
    zipped_files: dict[str, Any] = field(default_factory=dict)
    text_files: dict[str, str] = field(default_factory=dict)
    checks: dict[str, bool] | None = None
    notes: list[str] = field(default_factory=list)

    def paths(self) -> list[str]:
        return sorted([*self.json_files, *self.zipped_files, *self.text_files])

    def failed_checks(self) -> list[str]:
        return [name for name, ok in (self.checks or {}).items() if not ok]


def names(model: ZooModel) -> tuple[str, str, str]:
    """(posterior, model, data) names: posteriordb's ``DATA-MODEL``, underscores inside."""
    slug = model.name.replace("-", "_")
    return f"{slug}_data-{slug}_model", f"{slug}_model", f"{slug}_data"


def build_entry(model: ZooModel, seed: int, today: str) -> Entry:
    """Everything one model's entry holds, drawn with a stream of ``seed`` of its own."""
    settings = model.parse_settings()
    data = model.default_data(settings)
    posterior, model_name, data_name = names(model)
    code = model_code(model)
    settings_text = ", ".join(f"{k}={v}" for k, v in model.setting_texts().items()) or "none"
    rng = np.random.default_rng([seed, zlib.crc32(model.name.encode())])
    draws = model.reference_draws(data, settings, CHAINS, DRAWS, rng)
    entry = Entry(model, posterior)

    implementations = {"pymc": {"model_code": f"models/pymc/{model_name}.py"}}
    entry.text_files[f"models/pymc/{model_name}.py"] = pymc_script(
        model, code, settings_text, f"{model_name}.py", settings, data)
    if code.stan:
        implementations["stan"] = {"model_code": f"models/stan/{model_name}.stan",
                                   "stan_version": STAN_VERSION}
        entry.text_files[f"models/stan/{model_name}.stan"] = code.stan(settings)
    description = model.describe()
    if not code.self_contained:
        description += ("\n\nThe PyMC script builds the zoo's own model: it needs the bayes zoo "
                        "installed.")
        entry.notes.append("PyMC script not self-contained (it imports the zoo)")
    entry.json_files[f"models/info/{model_name}.info.json"] = {
        "name": model_name, "title": model.title, "description": description,
        "keywords": ["bayes zoo", model.name], "references": [], "urls": [],
        "prior": {"keywords": []}, "model_implementations": implementations,
        "zoo_settings": model.setting_texts(), "added_by": ADDED_BY, "added_date": today,
    }
    entry.json_files[f"data/info/{data_name}.info.json"] = {
        "name": data_name, "keywords": ["bayes zoo", model.name],
        "title": f"the bayes zoo's example data for {model.name}",
        "description": f"{len(data)} rows, columns {', '.join(data.columns)}",
        "urls": [], "references": [], "data_file": f"data/data/{data_name}.json",
        "added_by": ADDED_BY, "added_date": today,
    }
    entry.zipped_files[f"data/data/{data_name}.json.zip"] = code.data(data, settings)

    info = {"name": posterior, "model_name": model_name, "data_name": data_name,
            "keywords": ["bayes zoo", model.name], "urls": [], "references": [],
            "added_by": ADDED_BY, "added_date": today}
    if draws is None:
        reason = (f"no reference posterior: {model.name} has no exact sampler (its reference, "
                  f"{type(model).__name__}.reference, is not made of independent exact draws)")
        entry.notes.append(reason)
        info.update(reference_posterior_name=None,
                    dimensions=dimensions_of_model(model, data, settings), comments=reason)
    else:
        keyed = layout.stan_keyed(draws)
        info.update(reference_posterior_name=posterior,
                    dimensions={n: int(np.prod(np.shape(v)[2:])) for n, v in draws.items()})
        add_reference(entry, model, keyed, seed, today)
    entry.json_files[f"posteriors/{posterior}.json"] = info
    return entry


def add_reference(entry: Entry, model: ZooModel, keyed: dict[str, np.ndarray], seed: int,
                  today: str) -> None:
    """The draws, their info (diagnostics, checks made), and the summary statistics."""
    found = definition.diagnostics(keyed)
    entry.checks = definition.checks(found)
    info = {
        "name": entry.posterior,
        "inference": {"method": "analytical", "method_arguments": {
            "chains": CHAINS, "draws_per_chain": DRAWS, "seed": seed,
            # its name, not its docstring: that is for the model's maintainers, published nowhere
            "sampler": f"bayes-zoo {version('bayes-zoo')}, {type(model).__module__}."
                       f"{type(model).__qualname__}.reference_draws"}},
        "diagnostics": found,
        "checks_made": entry.checks,
        "comments": NOT_HMC,
        "added_by": ADDED_BY, "added_date": today,
        "versions": {"python": platform.python_version(),
                     **{p: version(p) for p in ("bayes-zoo", "numpy", "scipy", "arviz")}},
    }
    base = layout.DRAWS
    entry.zipped_files[f"{base}/draws/{entry.posterior}.json.zip"] = layout.chains_json(keyed)
    entry.json_files[f"{base}/info/{entry.posterior}.info.json"] = info
    for stat, values in definition.summary_statistics(keyed).items():
        folder = f"{layout.SUMMARIES}/{stat}"
        entry.json_files[f"{folder}/{stat}/{entry.posterior}.json"] = values
        entry.json_files[f"{folder}/info/{entry.posterior}.info.json"] = info


def dimensions_of_model(model: ZooModel, data, settings) -> dict[str, int]:
    """Sizes of the model's variables (``var_names`` or the free ones), from the PyMC model."""
    built = model.build(data, settings)
    wanted = model.var_names or [v.name for v in built.free_RVs]
    return {name: variable_size(built, name) for name in wanted}


def variable_size(built, name: str) -> int:
    """A PyMC variable's number of scalars: from its dims' coordinates or its static shape,
    compiling its shape only when neither says (compiling costs seconds)."""
    dims = built.named_vars_to_dims.get(name)
    if dims and all(built.coords.get(d) is not None for d in dims):
        return int(np.prod([len(built.coords[d]) for d in dims]))
    shape = built[name].type.shape
    if all(n is not None for n in shape):
        return int(np.prod(shape))
    return int(np.prod(built[name].shape.eval()))


def check_out(out: Path) -> None:
    """An --out that holds anything is refused: an export never merges or overwrites."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not empty; export writes a new folder")


def write(entries: list[Entry], out: Path) -> list[Path]:
    """Every entry under ``out/posterior_database``, written beside ``out`` then renamed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}-{uuid.uuid4().hex[:12]}"
    root = staging / layout.DB_FOLDER
    try:
        for entry in entries:
            for path, value in entry.json_files.items():
                layout.write_json(root / path, value)
            for path, value in entry.zipped_files.items():
                layout.write_zipped_json(root / path, value)
            for path, text in entry.text_files.items():
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(text, encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty: check_out refused anything else
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(p for p in out.rglob("*") if p.is_file())


def export(models: list[ZooModel], out: Path, seed: int) -> list[Entry]:
    """Compute every entry, then write them all if every reference passes the definition's
    checks; entries with a failed check are returned unwritten."""
    check_out(out)
    today = datetime.date.today().isoformat()
    entries = [build_entry(model, seed, today) for model in models]
    if not any(entry.failed_checks() for entry in entries):
        write(entries, out)
    return entries
