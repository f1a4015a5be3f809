"""posteriordb's folder layout: where each file lives, zipped JSON, and Stan-style names.

Read from the database itself (the subset in ../shared/data/posteriordb is laid out as its
repository): ``posterior_database/posteriors/P.json``, ``models/info/M.info.json``,
``models/stan/M.stan``, ``data/info/D.info.json``, ``data/data/D.json.zip`` (one member,
``D.json``), ``reference_posteriors/draws/{draws,info}/P.json.zip|.info.json`` and
``reference_posteriors/summary_statistics/{mean_value,mean_squared_value}/...``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.errors import DataError, UsageError

DB_FOLDER = "posterior_database"
#: the folders every posteriordb has; a path without them is not one
REQUIRED = ("posteriors", "models/info", "data/info")
DRAWS = "reference_posteriors/draws"
SUMMARIES = "reference_posteriors/summary_statistics"


def database_root(path: Path | str) -> Path:
    """The ``posterior_database`` folder at or inside ``path``; UsageError if neither is one."""
    path = Path(path)
    for root in (path / DB_FOLDER, path):
        if all((root / sub).is_dir() for sub in REQUIRED):
            return root
    raise UsageError(f"--db {path}: not a posteriordb (no {DB_FOLDER}/ holding "
                     f"{', '.join(REQUIRED)})")


def posterior_names(root: Path) -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in (root / "posteriors").glob("*.json"))


def read_json(path: Path) -> Any:
    """A db file's JSON; DataError naming the file when it is missing or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable JSON file ({_reason(err)})") from None


def read_zipped_json(path: Path) -> Any:
    """The one JSON file inside the zip archive ``path`` (posteriordb zips one file each)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            if len(members) != 1:
                raise DataError(f"{path}: expected one file in the archive, found {len(members)}")
            return json.loads(archive.read(members[0]).decode("utf-8"))
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a zipped JSON file ({_reason(err)})") from None


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err).splitlines()[0]


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_zipped_json(path: Path, value: Any) -> None:
    """``path`` (``X.json.zip``) holding one member ``X.json``, as posteriordb's files do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # a fixed timestamp: the same export gives the same bytes
        member = zipfile.ZipInfo(path.name.removesuffix(".zip"), date_time=(2020, 1, 1, 0, 0, 0))
        member.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(member, json.dumps(value, allow_nan=False))


def data_values(root: Path, data_name: str) -> dict[str, Any]:
    path = root / "data" / "info" / f"{data_name}.info.json"
    info = read_json(path)
    if not isinstance(info.get("data_file"), str):
        raise DataError(f"{path}: no data_file")
    return read_zipped_json(root / f"{info['data_file']}.zip")


def model_code(root: Path, model_name: str, framework: str) -> str | None:
    """The model's code in ``framework`` (``stan``, ``pymc``), None when it has none."""
    info = read_json(root / "models" / "info" / f"{model_name}.info.json")
    entry = info.get("model_implementations", {}).get(framework)
    if not entry:
        return None
    try:
        return (root / entry["model_code"]).read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"{root / entry['model_code']}: {_reason(err)}") from None


def posterior_info(root: Path, name: str) -> dict[str, Any]:
    """A posterior's JSON, with the fields the zoo reads checked."""
    path = root / "posteriors" / f"{name}.json"
    info = read_json(path)
    missing = [key for key in ("model_name", "data_name") if not isinstance(info.get(key), str)]
    if missing:
        raise DataError(f"{path}: no {' or '.join(missing)}")
    return info


def reference_draws(root: Path, posterior: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The posterior's reference draws as {Stan name: (chains, draws) array}; None if it has
    none (``reference_posterior_name`` null)."""
    name = posterior.get("reference_posterior_name")
    if not name:
        return None
    path = root / DRAWS / "draws" / f"{name}.json.zip"
    chains = read_zipped_json(path)
    try:
        return {key: np.array([chain[key] for chain in chains], dtype=float) for key in chains[0]}
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise DataError(f"{path}: not one object of equally long draws per chain ({err!r})") from None


def stan_keyed(draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{PyMC name: (chains, draws, ...)} -> {Stan name: (chains, draws)}: ``theta[1]`` is
    theta's first element (1-based, row-major, ``x[1,2]`` for matrices), a scalar keeps its name."""
    keyed = {}
    for name, values in draws.items():
        values = np.asarray(values, dtype=float)
        shape = values.shape[2:]
        if not shape:
            keyed[name] = values
            continue
        for index in np.ndindex(*shape):
            keyed[f"{name}[{','.join(str(i + 1) for i in index)}]"] = values[(..., *index)]
    return keyed


def zoo_scalar(stan_name: str) -> str | None:
    """``theta[3]`` -> ``theta[2]`` (the zoo's 0-based scalar), ``omega`` -> ``omega``; None for
    a matrix element (``x[1,2]``): the zoo's checks name scalars and vector elements only."""
    var, _, index = stan_name.partition("[")
    if "," in index:
        return None
    return f"{var}[{int(index[:-1]) - 1}]" if index else var


def chains_json(keyed: dict[str, np.ndarray]) -> list[dict[str, list[float]]]:
    """posteriordb's draws file: one object per chain, name -> that chain's draws."""
    chains = next(iter(keyed.values())).shape[0]
    return [{name: values[chain].tolist() for name, values in keyed.items()}
            for chain in range(chains)]
