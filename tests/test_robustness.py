"""Hostile input, reproducibility across processes, and Ctrl-C during sampling."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.cli import main
from zoo.core.errors import EXIT_ENVIRONMENT, DataError
from zoo.core.outputs import written_files
from zoo.core.registry import all_models

MODELS = all_models()
ROOT = Path(__file__).resolve().parent.parent

# --- malformed CSVs -----------------------------------------------------------------------------
CELLS = st.one_of(
    st.integers(-10**6, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "0", "1", "2", "-1", "0.5", "1e400", "nan", "inf", "yes", "1,0",
                     '"', "\x00", "é", "１", "0x1", "1_000"]),
    st.text(max_size=8),
)


@st.composite
def csv_bytes(draw, names: list[str]) -> bytes:
    """A CSV that is often nearly right: the model's columns (some dropped, renamed, shuffled
    or joined by junk), rows of hostile cells, an encoding that may not be UTF-8."""
    header = draw(st.lists(st.one_of(st.sampled_from(names), st.text(max_size=6)),
                           max_size=len(names) + 2))
    if draw(st.booleans()):
        header = list(names)
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 1), max_size=12))
    text = "\n".join(",".join(row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "raw"]))
    if encoding == "raw":
        return draw(st.binary(max_size=200))
    return text.encode(encoding, errors="replace")


def check_one_clear_line(model_name: str, content: bytes) -> None:
    """Loading either succeeds or fails with one line naming the file; the CLI then exits 2."""
    model = MODELS[model_name]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.csv"
        path.write_bytes(content)
        try:
            frame = model.load(path, model.parse_settings())
        except DataError as err:
            message = str(err)
            assert str(path) in message and "\n" not in message, message
        else:
            assert isinstance(frame, pd.DataFrame) and len(frame) > 0
            return
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["verify", model_name, "--data", str(path), "--json"])
        assert status == 2 and out.getvalue() == ""
        assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
        assert sorted(os.listdir(folder)) == ["input.csv"]  # nothing written


@pytest.mark.parametrize("model_name", list(MODELS))
def test_malformed_csv_gives_one_clear_line(model_name):
    names = [c.name for c in MODELS[model_name].columns]

    @settings(max_examples=50, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(csv_bytes(names))
    def check(content):
        check_one_clear_line(model_name, content)

    check()


@pytest.mark.parametrize("model_name", list(MODELS))
def test_empty_and_huge_files_give_one_clear_line(model_name):
    names = [c.name for c in MODELS[model_name].columns]
    check_one_clear_line(model_name, b"")
    row = ",".join("1" for _ in names)
    huge = "\n".join([",".join(names), *[row] * 50_000, ",".join("x" for _ in names)]) + "\n"
    check_one_clear_line(model_name, huge.encode())


# --- the same seed gives the same numbers in two processes ---------------------------------------
def test_same_seed_same_numbers_across_processes():
    command = [sys.executable, "-m", "zoo", "verify", "single-coin", "--json", "--draws", "200",
               "--tune", "200", "--seed", "3"]
    runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    documents = []
    for process in runs:
        out, err = process.communicate(timeout=300)
        assert process.returncode in (0, 1), err
        document = json.loads(out)
        document.pop("seconds")
        document["density_check"].pop("seconds")
        document.pop("reference_source")  # the first to finish may have stored it for the other
        documents.append(document)
    assert documents[0] == documents[1]


# --- Ctrl-C during sampling ---------------------------------------------------------------------
def children(pid: int) -> list[str]:
    words = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            words += (task / "children").read_text().split()
    return words


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_ctrl_c_during_sampling_exits_130_and_keeps_previous_results(tmp_path):
    out = tmp_path / "coin"
    quick = ["--draws", "100", "--tune", "100", "--seed", "5", "--quiet"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "single-coin", "--out", str(out), *quick]) in (0, 1)  # 1: few draws
    before = snapshot(out)
    # PyMC's NUTS with 2 cores samples in worker processes: their appearance means sampling began
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "run", "single-coin", "--out", str(out), "--draws",
         "1000000", "--quiet", "--nuts-sampler", "pymc", "--cores", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    deadline = time.monotonic() + 120
    while len(children(process.pid)) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.count("\n") == 1 and "interrupted" in err
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["coin"]  # no staging folder left


def test_sigterm_to_the_command_stops_its_worker_processes(tmp_path):
    """SIGTERM (``kill PID``, a job scheduler's stop) ended the command at once and left the
    spawned workers of ``--jobs 2`` fitting on their own; now it stops them as Ctrl-C does."""
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "sbc", "single-coin", "--sims", "400", "--jobs", "2",
         "--out", str(tmp_path / "sbc"), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    deadline = time.monotonic() + 120
    while len(workers := children(process.pid)) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    time.sleep(1.0)
    os.kill(process.pid, signal.SIGTERM)  # the command alone, not its group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in err, err
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


# --- set-up -------------------------------------------------------------------------------------
OLD_PYTHON = next((p for p in ("python3.11", "python3.10") if __import__("shutil").which(p)), None)


@pytest.mark.skipif(OLD_PYTHON is None, reason="no Python older than 3.12 on this machine")
def test_make_refuses_an_old_python_in_one_line_and_makes_nothing(tmp_path):
    """`make verify PYTHON=python3.11` says that 3.12 is needed and leaves no .venv behind, so
    a later plain `make verify` is not blocked by it."""
    for name in ("Makefile", "pyproject.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    done = subprocess.run(["make", "verify", f"PYTHON={OLD_PYTHON}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "needs Python 3.12 or newer" in done.stderr and "PYTHON=python3.12" in done.stderr
    assert not (tmp_path / ".venv").exists()


# --- Ctrl-C swallowed while compiling (issue 18.3) ------------------------------------------------
def test_ctrl_c_swallowed_while_compiling_still_stops_the_run(tmp_path, capsys, monkeypatch):
    """A Ctrl-C arriving while numba calls back into Python through ctypes, as llvmlite does
    while PyTensor compiles: the callback swallows the KeyboardInterrupt ("Exception ignored on
    calling ctypes callback function"), and the run went on, wrote its output and exited 0."""
    import ctypes

    from zoo.core import compile_cache, nutpie_callbacks

    compile_cache.cache_clear()  # compile now, not reuse a model an earlier test compiled
    compile_model = nutpie_callbacks.compile_model

    def callback():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):  # the handler runs here, inside the callback
            pass

    def compile_interrupted(*args, **kwargs):
        ctypes.CFUNCTYPE(None)(callback)()
        return compile_model(*args, **kwargs)

    monkeypatch.setattr(nutpie_callbacks, "compile_model", compile_interrupted)
    out = tmp_path / "coin"
    assert main(["run", "single-coin", "--out", str(out), "--quiet", "--draws", "200"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "zoo: interrupted; nothing was written\n"  # no "Exception ignored"
    assert captured.out == "" and list(tmp_path.iterdir()) == []


# --- kill -9 and concurrent writers: out is always one complete output ---------------------------
#: the files of one output version, each filled with its version number (a torn write shows)
OUTPUT_FILES = {"posterior.nc": 400_000, "summary.md": 3_000, "result.json": 20_000}


def write_version(out: Path, version: int) -> None:
    from zoo.core.outputs import staged_folder

    with staged_folder(out) as staging:
        for name, size in OUTPUT_FILES.items():
            (staging / name).write_bytes(version.to_bytes(8, "little") * (size // 8))


def complete_version(out: Path) -> int:
    """The version ``out`` holds, asserting that every file is there, whole and of one version."""
    files = {p.name: p.read_bytes() for p in written_files(out)}
    assert set(files) == set(OUTPUT_FILES), sorted(files)
    versions = set()
    for name, content in files.items():
        assert len(content) == OUTPUT_FILES[name] // 8 * 8, name
        versions |= {content[i:i + 8] for i in range(0, len(content), 8)}
    assert len(versions) == 1, f"mixed versions in {out}"
    return int.from_bytes(versions.pop(), "little")


def forked(work) -> int:
    """Run ``work()`` in a forked child (no interpreter start-up); the child's pid."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            work()
            status = 0
        finally:
            os._exit(status)
    return pid


def test_kill_9_at_random_moments_leaves_the_previous_or_the_new_output(tmp_path):
    """20 writers killed with SIGKILL at random moments of writing (the staging, the swap, the
    removal of the previous output): out always holds one complete version."""
    import random

    from zoo.core.outputs import staged_folder

    out, rng, seen = tmp_path / "out", random.Random(18), set()
    write_version(out, 0)
    for _ in range(20):
        previous = complete_version(out)

        def rewrite_forever(start=previous + 1):
            version = start
            while True:
                write_version(out, version)
                version += 1

        pid = forked(rewrite_forever)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        seen.add(complete_version(out) > previous)
    assert True in seen  # some writers were killed after replacing out, not all before
    with staged_folder(out):  # the next run removes what the killed ones left beside out
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_two_writers_at_once_end_with_one_complete_output(tmp_path):
    out = tmp_path / "out"
    write_version(out, 0)

    def writer(first: int):
        return lambda: [write_version(out, version) for version in range(first, first + 40)]

    pids = [forked(writer(1000)), forked(writer(2000))]
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids] == [0, 0]
    assert complete_version(out) in (1039, 2039)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# --- a destination that cannot take the output: one line, exit 3 (the environment), before fitting
@contextlib.contextmanager
def mounted_tmpfs(folder: Path, *options: str):
    """A tmpfs at ``folder`` (root only); yields False where mounting is not allowed."""
    folder.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs",
                                  str(folder)], capture_output=True).returncode == 0
    except FileNotFoundError:  # no mount program
        mounted = False
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def no_fitting(monkeypatch):
    import zoo.core.pipeline

    def fit(*args, **kwargs):
        raise AssertionError("fitted before checking --out")

    monkeypatch.setattr(zoo.core.pipeline, "run", fit)


def test_a_read_only_destination_is_refused_before_fitting(rejects, tmp_path, monkeypatch):
    """A read-only file system (tmpfs mounted ro, as root); unprivileged, a folder without write
    permission; as root where mounting is not allowed, EROFS simulated."""
    import errno

    no_fitting(monkeypatch)
    with mounted_tmpfs(tmp_path / "ro", "ro", "size=1m") as mounted:
        message = "Read-only file system"
        if not mounted and os.geteuid() != 0:
            (tmp_path / "ro").chmod(0o555)
            message = "Permission denied"
        elif not mounted:
            def read_only(*args, **kwargs):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))

            monkeypatch.setattr(tempfile, "mkdtemp", read_only)
        rejects(["run", "single-coin", "--out", str(tmp_path / "ro" / "coin")], message,
                status=EXIT_ENVIRONMENT)


def test_a_full_disk_is_refused_before_fitting(rejects, tmp_path, monkeypatch):
    """A 1 MB tmpfs (as root); unprivileged, a disk that reports 1 MB free (simulated)."""
    import shutil

    import zoo.core.outputs

    no_fitting(monkeypatch)
    with mounted_tmpfs(tmp_path / "small", "size=1m") as mounted:
        if not mounted:
            monkeypatch.setattr(zoo.core.outputs.shutil, "disk_usage",
                                lambda path: shutil._ntuple_diskusage(2**20, 0, 2**20))
        rejects(["run", "single-coin", "--out", str(tmp_path / "small" / "coin")], "MB free",
                status=EXIT_ENVIRONMENT)


def test_a_disk_that_fills_while_writing_keeps_the_previous_output(tmp_path):
    """ENOSPC in the middle of writing (simulated: the third file's write fails as on a full
    disk): one line, the previous output kept, no staging folder left."""
    import errno

    from zoo.core.errors import EnvironmentProblem
    from zoo.core.outputs import staged_folder

    out = tmp_path / "out"
    write_version(out, 1)
    with pytest.raises(EnvironmentProblem, match="No space left on device") as raised:
        with staged_folder(out) as staging:
            (staging / "posterior.nc").write_bytes(b"0" * 1000)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert "\n" not in str(raised.value) and "previous output" in str(raised.value)
    assert complete_version(out) == 1 and [p.name for p in tmp_path.iterdir()] == ["out"]
    # h5py's message for the same (posterior.nc on a full disk) spans lines, errno in the text
    h5py_message = ("Unable to synchronously create file (file write failed: time = Mon\n, "
                    "errno = 28, error message = 'No space left on device')")
    with pytest.raises(EnvironmentProblem) as raised:
        with staged_folder(out):
            raise OSError(h5py_message)
    assert str(raised.value).count("No space left on device") == 1 and "\n" not in str(raised.value)
