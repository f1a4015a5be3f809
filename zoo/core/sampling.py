"""Sampling with the settings a run records: NUTS (PyMC's own or nutpie) and SMC.

Output is silenced while the zoo samples (PyMC logs go to ERROR level) because the zoo reads
and reports the diagnostics itself: nutpie prints nothing about divergences.
"""

from __future__ import annotations

import logging
import numbers
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from zoo.core import compile_cache, interrupts, stopwatch
from zoo.core.deferred import pm, xr
from zoo.core.errors import UsageError
from zoo.core.option_names import given

DEFAULT_SEED = 20261125
#: draws per chain when neither the command nor the model (``ZooModel.draws``) says otherwise
DEFAULT_DRAWS = 1000
#: the NUTS implementation unless the command asks for another: nutpie samples 10-50x faster
#: than PyMC's own, and a model compiled once in a session is reused (zoo.core.compile_cache)
DEFAULT_NUTS_SAMPLER = "nutpie"
#: tuning steps when none are asked for: each NUTS implementation's default in PyMC
DEFAULT_TUNE = {"nutpie": 400, "pymc": 1000}
#: target acceptance when none is asked for: nutpie's (and PyMC's) default; 0.9 for PyMC's
#: NUTS, with which the zoo began (fewer divergences on the hierarchical models' necks)
DEFAULT_TARGET_ACCEPT = {"nutpie": 0.8, "pymc": 0.9}


SAMPLERS = ("nuts", "smc")
NUTS_SAMPLERS = (None, "pymc", "nutpie")
#: seeds the zoo takes: NumPy's and nutpie's, with room for the per-chain seeds derived from one
SEEDS = range(0, 2**32 - 100)
#: the seeds in words, for the messages that refuse another: the largest is SEEDS.stop - 1
SEEDS_TEXT = f"between 0 and 2**32 - {2**32 - SEEDS[-1]}"


@dataclass(frozen=True)
class SamplerConfig:
    """Everything that decides the draws; recorded in every report.

    Checked when made (:func:`check_sampler_options`), so the command line and the Python API
    refuse a bad value with the same one-line UsageError before any fitting. ``tune=0`` is
    kept, not replaced by the default: PyMC's NUTS then samples with its initial step size
    and mass matrix, nutpie with its minimum of one tuning step; diagnostics judge the result.
    """

    draws: int | None = None  # None: the model's ``draws`` (DEFAULT_DRAWS for most)
    tune: int | None = None  # None: DEFAULT_TUNE of the NUTS implementation
    chains: int = 4
    cores: int = 2
    seed: int = DEFAULT_SEED
    sampler: str = "nuts"  # "nuts" or "smc"
    nuts_sampler: str | None = None  # "pymc" or "nutpie"; None: DEFAULT_NUTS_SAMPLER
    target_accept: float | None = None  # None: DEFAULT_TARGET_ACCEPT of the implementation
    progressbar: bool = False

    def __post_init__(self):
        check_sampler_options(self)

    def as_dict(self) -> dict:
        return asdict(self)

    def resolved(self, nuts_sampler: str = DEFAULT_NUTS_SAMPLER, draws: int = DEFAULT_DRAWS
                 ) -> SamplerConfig:
        """The settings a run uses: ``nuts_sampler`` and ``draws`` (the model's) unless others
        were asked for, and that sampler's default tuning and target acceptance unless they
        were given. SMC has neither (its stages adapt its moves): None."""
        draws = draws if self.draws is None else self.draws
        if self.sampler == "smc":
            return replace(self, draws=draws)
        chosen = self.nuts_sampler or nuts_sampler
        return replace(
            self, nuts_sampler=chosen, draws=draws,
            tune=DEFAULT_TUNE[chosen] if self.tune is None else self.tune,
            target_accept=(DEFAULT_TARGET_ACCEPT[chosen] if self.target_accept is None
                           else self.target_accept))


    def describe(self) -> str:
        """The resolved settings in words, as the console and the pages show them."""
        if self.sampler == "smc":
            return (f"SMC: {self.chains} chains x {self.draws} draws (no tuning steps: SMC "
                    "adapts its moves between stages)")
        return (f"NUTS ({self.nuts_sampler}): {self.chains} chains x {self.draws} draws, "
                f"tune {self.tune}, target_accept {self.target_accept}")


def check_sampler_options(config: SamplerConfig) -> None:
    """UsageError naming the first bad value of ``config``: whole numbers (not bools or
    fractions) in range, at least 2 chains (R-hat compares chains: one cannot be diagnosed),
    a target acceptance strictly between 0 and 1, and known sampler names."""
    def whole(value, low: int, high: float = float("inf"), *, optional: bool = False) -> bool:
        if value is None:
            return optional
        return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
                and low <= value < high)

    def fraction(value) -> bool:
        return (value is None or isinstance(value, numbers.Real) and not isinstance(value, bool)
                and 0 < value < 1)

    rules = [
        ("draws", whole(config.draws, 1, optional=True), "must be a whole number of at least 1"),
        ("tune", whole(config.tune, 0, optional=True), "must be a whole number of at least 0"),
        ("chains", whole(config.chains, 2), "must be at least 2: R-hat compares chains, so one "
                                            "chain cannot be diagnosed"),
        ("cores", whole(config.cores, 1), "must be a whole number of at least 1"),
        ("seed", whole(config.seed, SEEDS.start, SEEDS.stop),
         f"must be a whole number {SEEDS_TEXT}"),
        ("target_accept", fraction(config.target_accept),
         "must be a number between 0 and 1 (exclusive)"),
        ("sampler", config.sampler in SAMPLERS, f"must be one of {_listed(SAMPLERS)}"),
        ("nuts_sampler", config.nuts_sampler in NUTS_SAMPLERS,
         f"must be one of {_listed(NUTS_SAMPLERS)}"),
        ("progressbar", isinstance(config.progressbar, bool), "must be True or False"),
    ]
    if config.sampler == "smc":  # given, they would be recorded and silently unused
        rules += [(name, getattr(config, name) is None, "applies to NUTS only; SMC has none")
                  for name in ("tune", "target_accept", "nuts_sampler")]
    for name, good, bounds in rules:
        if not good:
            raise UsageError(f"{given(name, getattr(config, name))}: {bounds}")


def _listed(choices) -> str:
    return ", ".join(map(repr, choices))


@contextmanager
def quieted_pymc(*loggers: str) -> Iterator[None]:
    """For the block, the zoo's own calls into PyMC and its own numerics: PyMC's logging (and
    that of ``loggers``) at ERROR and the known-harmless warnings the zoo handles itself
    ignored, since it reads and reports the diagnostics itself; and PyTensor's generated source kept beside its
    compile cache. Everything is restored afterwards, so that a notebook calling the zoo keeps
    its own settings. Nested blocks restore in turn; blocks in concurrent threads may restore
    out of order, as ``warnings.catch_warnings`` does.

    The generated source: PyTensor writes the Python source of every numba-compiled function
    to a new file in the system temp folder and never removes it, unless
    ``generated_src_dir`` is set: then the files are content-addressed there (a rerun reuses
    them) and pruned by age. The zoo puts them beside PyTensor's compile cache, unless the
    user chose a folder.
    """
    import pytensor

    quieted = [logging.getLogger(name) for name in ("pymc", *loggers)]
    levels = [logger.level for logger in quieted]
    source_dir = pytensor.config.generated_src_dir
    beside_cache = str(Path(pytensor.config.compiledir) / "generated_src")
    try:
        for logger in quieted:
            logger.setLevel(logging.ERROR)
        pytensor.config.generated_src_dir = source_dir or beside_cache
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The effect of Potentials")
            # numpy's floating-point notices in the zoo's numerics (a grid's log of 0 at its
            # edge, exp overflowing to inf): the zoo handles inf itself, and a NaN that reaches
            # a check or a diagnostic fails it
            warnings.filterwarnings("ignore", category=RuntimeWarning, message=(
                "(overflow|divide by zero|invalid value|underflow) encountered"))
            warnings.filterwarnings("ignore", message="We recommend running at least")
            # a random op without a numba version (rat-tumors' BetaBinomial, simulated in SBC)
            # runs in Python: slower simulation, same numbers
            warnings.filterwarnings("ignore", message="Numba will use object mode",
                                    category=UserWarning)
            yield
    finally:
        for logger, level in zip(quieted, levels):
            logger.setLevel(level)
        pytensor.config.generated_src_dir = source_dir


@contextmanager
def interrupts_raised() -> Iterator[None]:
    """Ctrl-C stops the run. PyMC catches KeyboardInterrupt, ends sampling early and returns
    the draws so far (or, during tuning, fails with "Not enough samples"); the zoo must not
    compare or save those, so it raises the interrupt again once PyMC is done (the CLI exits
    130)."""
    interrupts.check()  # one that compiling swallowed (zoo.core.interrupts): do not start sampling
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen = []

    def interrupt(signum, frame):
        seen.append(signum)
        interrupts.record()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        with warnings.catch_warnings(record=True) as caught:  # about draws cut short: moot
            yield
    except Exception:
        if seen:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


#: chain seed -> untransformed initial values by name (a chain's own start)
Starts = Callable[[int], dict[str, np.ndarray]]


def sampling_time(idata: xr.DataTree) -> float:
    """Seconds the sampler reports spending on draws (not compiling), whichever sampler ran."""
    if "sampling_time" in idata.posterior.attrs:
        return float(idata.posterior.attrs["sampling_time"])
    stats = idata.children.get("sample_stats")
    return float(stats.attrs.get("_t_sampling", 0.0)) if stats is not None else 0.0


@quieted_pymc()
def sample_nuts(
    model: pm.Model,
    config: SamplerConfig,
    *,
    nuts_sampler: str = DEFAULT_NUTS_SAMPLER,
    starts: Starts | None = None,
    initvals: dict | None = None,
    seed_offset: int = 0,
    adaptation: str = "low_rank",
) -> xr.DataTree:
    """NUTS with the run's settings; ``seed_offset`` separates several fits in one run.
    ``nuts_sampler`` is the caller's choice; ``config.nuts_sampler``, when set, wins.

    ``starts`` gives each chain its own start, exactly there (no jitter); ``initvals`` one
    start for every chain, jittered. ``adaptation`` is nutpie's mass matrix: "diag" or
    "low_rank" (diagonal plus the main directions of correlation: fewer steps per draw on
    correlated posteriors).
    """
    config = config.resolved(nuts_sampler)
    if config.nuts_sampler == "nutpie":
        return sample_nutpie(model, config, starts=starts, initvals=initvals,
                             seed_offset=seed_offset, adaptation=adaptation)
    if starts is not None:
        seeds = np.random.SeedSequence(config.seed + seed_offset).generate_state(config.chains)
        initvals = [starts(int(seed)) for seed in seeds]
    with model, interrupts_raised():
        return pm.sample(
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            cores=min(config.cores, config.chains),
            random_seed=config.seed + seed_offset,
            nuts_sampler=config.nuts_sampler,
            target_accept=config.target_accept,
            initvals=initvals,
            init="auto" if starts is None else "adapt_diag",
            progressbar=config.progressbar and sys.stdout.isatty(),
            compute_convergence_checks=False,
        )


@quieted_pymc()
def sample_nutpie(model: pm.Model, config: SamplerConfig, *, starts: Starts | None = None,
                  initvals: dict | None = None, seed_offset: int = 0,
                  adaptation: str = "low_rank") -> xr.DataTree:
    """nutpie called directly rather than through ``pm.sample``, which takes one start for
    every chain and jitters it, and offers no choice of mass-matrix adaptation. The result is
    the DataTree ``pm.sample`` returns (PyMC's own patch adds the data groups and timings).
    A model compiled earlier in the session with the same structure is reused
    (:mod:`zoo.core.compile_cache`)."""
    with stopwatch.phase("imports"):
        import nutpie
        from pymc.backends.arviz import patch_nutpie_idata

        xr.DataArray(np.zeros(1))  # xarray's one-time import of dask (if installed): not sampling
    compiled = compile_cache.nutpie_model(
        model, initial_points=initvals, jitter_rvs=None if starts is None else set())
    if starts is not None:
        compiled = replace(compiled, initial_point_func=nutpie_starts(model, compiled, starts))
    begin = time.time()
    with interrupts_raised():
        idata = nutpie.sample(
            compiled,
            draws=config.draws,
            tune=max(config.tune, 1),  # nuts-rs needs at least one tuning step
            chains=config.chains,
            cores=min(config.cores, config.chains),
            seed=config.seed + seed_offset,
            progress_bar=config.progressbar and sys.stdout.isatty(),
            target_accept=config.target_accept,
            adaptation=adaptation,
            save_warmup=False,
        )
    patch_nutpie_idata(idata, model, sampling_time=time.time() - begin)
    return idata


def nutpie_starts(model: pm.Model, compiled, starts: Starts) -> Callable[[int], np.ndarray]:
    """nutpie's initial-point function (chain seed -> flat transformed vector) for ``starts``
    (chain seed -> untransformed values by name)."""
    from pymc.initial_point import make_initial_point_fn

    def point(seed: int) -> dict[str, np.ndarray]:
        return make_initial_point_fn(model=model, overrides=starts(seed), jitter_rvs=set(),
                                     return_transformed=True)(seed)

    return compile_cache.flat_points(compiled, point)


def smc_refusal(model: pm.Model) -> str | None:
    """Why SMC cannot fit ``model``, or None: SMC starts from draws of the prior, and a Flat
    or HalfFlat variable (an improper prior) has none."""
    from pymc.distributions.continuous import FlatRV, HalfFlatRV

    improper = [rv.name for rv in model.free_RVs if isinstance(rv.owner.op, (FlatRV, HalfFlatRV))]
    if not improper:
        return None
    return (f"SMC starts from draws of the prior, and {', '.join(improper)} "
            f"{'has' if len(improper) == 1 else 'have'} an improper flat prior; use NUTS")


@quieted_pymc()
def sample_smc(model: pm.Model, config: SamplerConfig, *, seed_offset: int = 0) -> xr.DataTree:
    """SMC with ``draws`` particles per chain; its sample_stats carry the log evidence."""
    with model, interrupts_raised():
        return pm.sample_smc(
            draws=config.draws,
            chains=config.chains,
            cores=min(config.cores, config.chains),
            random_seed=config.seed + seed_offset,
            progressbar=config.progressbar and sys.stdout.isatty(),
            compute_convergence_checks=False,
        )


def smc_log_evidence(idata: xr.DataTree) -> np.ndarray:
    """Each SMC chain's final-stage estimate of log p(data) (stages are ragged objects)."""
    stages = idata.sample_stats["log_marginal_likelihood"]
    return np.array(
        [np.asarray(stages.isel(chain=c).values.tolist(), dtype=float).ravel()[-1]
         for c in range(stages.sizes["chain"])]
    )


def stats_for_netcdf(idata: xr.DataTree) -> xr.DataTree:
    """A copy whose object-dtype sample stats NetCDF can save: text stats (nutpie's
    ``divergence_message``: a string at a divergence, NaN or None elsewhere) become strings,
    "" where there is none; ragged numeric SMC stats become NaN-padded floats."""
    stats = idata["sample_stats"].to_dataset()
    saved = {}
    for name, array in stats.data_vars.items():
        if array.dtype != object:
            saved[name] = array
        elif any(isinstance(value, str) for value in array.values.ravel()):
            saved[name] = array.copy(data=np.vectorize(_text, otypes=[str])(array.values))
        else:
            saved[name] = _padded(array, stats["chain"].values)
    copy = idata.copy()
    copy["sample_stats"] = xr.Dataset(saved, attrs=stats.attrs)
    return copy


def _text(value) -> str:
    """A text stat's entry: itself, or "" where nutpie stored NaN or None (no message)."""
    return value if isinstance(value, str) else ""


def _padded(array: xr.DataArray, chains: np.ndarray) -> xr.DataArray:
    """Ragged numeric stats (one sequence per chain, SMC's stages) as NaN-padded floats."""
    rows = [np.asarray(array.isel(chain=c).values.tolist(), dtype=float).ravel()
            for c in range(array.sizes["chain"])]
    padded = np.full((len(rows), max(map(len, rows))), np.nan)
    for i, row in enumerate(rows):
        padded[i, : len(row)] = row
    return xr.DataArray(padded, dims=("chain", "stage"), coords={"chain": chains})
