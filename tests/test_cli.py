"""The command line: listing, --json, exit statuses, and every kind of bad input."""

import json
import os

import pytest

from zoo.cli import main
from zoo.core.outputs import MARKER
from zoo.core.registry import all_models

FAST = ["--draws", "500", "--tune", "500", "--seed", "7", "--quiet"]


def test_list_names_every_model(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in all_models():
        assert name in out


def test_verify_json_is_one_document(capsys):
    assert main(["verify", "single-coin", "--json", *FAST]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) >= {"model", "config", "checks", "alternatives", "diagnostics", "notes",
                             "passed"}
    assert document["config"]["seed"] == 7 and document["config"]["versions"]["pymc"]
    assert {c["name"] for c in document["checks"]} == {"theta.mean", "theta.sd"}
    assert set(document["checks"][0]) == {"name", "reference", "reference_error", "estimate",
                                          "mcse", "z", "passed", "derived_from"}
    assert document["reference_kind"] == "quadrature" and document["weaker_check"] is False  # triangular prior
    assert document["passed"] is True
    assert document["diagnostics"]["divergences"] == 0


def test_same_seed_same_numbers(capsys):
    outputs = []
    for _ in range(2):
        main(["verify", "single-coin", "--json", *FAST])
        document = json.loads(capsys.readouterr().out)
        outputs.append((document["checks"], document["diagnostics"]))
    assert outputs[0] == outputs[1]


def test_run_writes_posterior_and_summary(tmp_path, capsys):
    out = tmp_path / "coin"
    assert main(["run", "single-coin", "--set", "prior=flat", "--out", str(out), *FAST]) == 0
    assert {p.name for p in out.iterdir()} == {"posterior.nc", "summary.md", "result.json", MARKER}
    import arviz as az

    assert az.from_netcdf(out / "posterior.nc").posterior["theta"].sizes["chain"] == 4
    summary = (out / "summary.md").read_text()
    assert "prior=flat" in summary and "seed 7" in summary and "R-hat" in summary
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()  # issue 18: it was 0700


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_output_folders_get_the_umasks_mode(tmp_path, mask):
    """Issue 18: reports/MODEL, reports/site and reports/sweep-* (all staged_folder) were 0700
    whatever the umask, being tempfile.mkdtemp's folder renamed."""
    from zoo.report.text import staged_folder

    previous = os.umask(mask)
    try:
        with staged_folder(tmp_path / "reports" / "out") as staging:
            (staging / "file").write_text("x")
    finally:
        os.umask(previous)
    assert (tmp_path / "reports" / "out").stat().st_mode & 0o777 == 0o777 & ~mask
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["out"]


BAD_INPUTS = [
    ("missing file", None, "no such file"),
    ("empty file", "", "empty"),
    ("header only", "y\n", "no data rows"),
    ("missing column", "x\n1\n0\n", "missing column 'y'"),
    ("text for a number", "y\n1\nheads\n", "line 3, column 'y': 'heads' is not a number"),
    ("not 0/1", "y\n1\n2\n", "line 3, column 'y': '2' is not 0 or 1"),
    ("fraction", "y\n1\n0.5\n", "line 3, column 'y': '0.5' is not a whole number"),
    ("empty cell", "y,x\n1,2\n,3\n", "line 3, column 'y': empty cell"),
    # issue 18: blank lines made the line numbers of later rows too small
    ("after blank lines", "y\n1\n\n\n0\n7\n", "line 6, column 'y': '7' is not 0 or 1"),
    ("after a quoted line break", 'y,x\n1,"a\nb"\n7,c\n', "line 4, column 'y': '7' is not 0"),
    # issue 23: "found 'y;x'" without saying why
    ("semicolons", "y;x\n1;2\n", "the header has ';' between names: the zoo reads columns "
                                   "separated by commas"),
    ("inexact whole number", "y\n1\n1.0000000000000001\n",
     "line 3, column 'y': '1.0000000000000001' is not a whole number"),
]


@pytest.mark.parametrize("label, text, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
@pytest.mark.parametrize("command", ["run", "verify"])
def test_bad_data_is_one_line_exit_2_nothing_written(rejects, tmp_path, label, text, message, command):
    data = str(tmp_path / "absent.csv") if text is None else "{csv}"
    args = [command, "single-coin", "--data", data, *FAST]
    rejects(args + ["--out", "{out}"] if command == "run" else args, message, text)


@pytest.mark.parametrize("args, message", [
    (["verify", "no-such-model"], "unknown model 'no-such-model'"),
    (["verify", "single-coin", "--set", "colour=red"], "has no setting 'colour'"),
    (["verify", "single-coin", "--set", "prior=uniform"], "--set prior=uniform"),
    (["verify", "single-coin", "--set", "prior"], "expected KEY=VALUE"),
    (["verify", "two-factories", "--set", "kappa=1"], "kappa must be at least 2"),
    (["verify", "two-factories", "--set", "prior=0.3,0.3"], "must sum to 1"),
    # issue 23: the shared checks said "draws=0" where one types --draws 0 (the API: draws=0)
    (["verify", "single-coin", "--draws", "0"], "--draws 0: must be a whole number of at least 1"),
    (["verify", "single-coin", "--chains", "x"], "not a whole number"),
    # issue 23: --chains 1 fitted, then failed on "R-hat not finite" with exit 1
    (["verify", "single-coin", "--chains", "1"], "--chains 1: must be at least 2"),
    (["run", "single-coin", "--chains", "1", "--out", "/tmp/zoo-never-written"], "--chains 1"),
    (["verify", "single-coin", "--target-accept", "1"], "--target-accept 1.0: must be a number"),
    (["verify", "single-coin", "--sampler", "smc", "--tune", "100"], "--tune 100: applies to NUTS only"),
    (["verify", "single-coin", "--set", "grid=1e9"], "the grid size must be at most 10,000,000"),
    (["verify", "single-coin", "--set", "grid=2.5"], "'2.5' is not a whole number"),
    (["verify", "gmm", "--set", "components=1e3"], "must be at most 20"),
    (["verify", "single-coin", "--sampler", "gibbs"], "invalid choice"),
    (["verify"], "a MODEL or --all"),
    (["verify", "--all", "--data", "x.csv"], "cannot go with --all"),
])
def test_bad_options_are_one_line_exit_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_failing_check_exits_1(capsys, monkeypatch):
    """A model whose reference is wrong makes verify exit 1 and say FAIL."""
    from zoo.models import single_coin

    original = single_coin.exact_posterior

    def shifted(heads, tails, prior):
        answer = original(heads, tails, prior)
        return {**answer, "mean": answer["mean"] + 0.05}

    monkeypatch.setattr(single_coin, "exact_posterior", shifted)
    monkeypatch.setenv("ZOO_CACHE_DIR", "off")  # the cache cannot see a monkeypatch
    assert main(["verify", "single-coin", *FAST]) == 1
    assert "FAIL" in capsys.readouterr().out


OUT_COMMANDS = {
    "run": ["run", "single-coin", *FAST],
    "report": ["report", "single-coin", *FAST],
    "sweep": ["sweep", "mint", "--over", "K=5,20", *FAST],
    "sbc": ["sbc", "single-coin", "--sims", "2"],
    "power": ["power", "single-coin", "--quick"],
}


@pytest.mark.parametrize("command", OUT_COMMANDS)
@pytest.mark.parametrize("where, message, status", [
    ("{csv}", "exists and is not a folder", 2),
    ("{csv}/inside", "is not a folder", 2),
    ("/proc/zoo-cannot-write-here", "cannot write in /proc", 3),  # the machine's, not input
], ids=["a file", "below a file", "unwritable"])
def test_a_bad_out_is_refused_before_fitting(rejects, monkeypatch, command, where, message,
                                             status):
    """Issue 18: a bad --out was found only after the fit, with a traceback and exit 1."""
    import zoo.core.pipeline
    import zoo.tools.sbc

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking --out")

    for module, name in [(zoo.core.pipeline, "run"), (zoo.tools.sbc, "run_sbc")]:
        monkeypatch.setattr(module, name, no_fit)
    rejects([*OUT_COMMANDS[command], "--out", where], message, csv_text="y\n1\n", status=status)


def test_the_out_check_leaves_nothing_behind(tmp_path):
    from zoo.core.outputs import writable_folder as output_folder

    existing = tmp_path / "existing"
    existing.mkdir()
    assert output_folder(existing) == existing and output_folder(tmp_path / "a" / "b")
    assert [p.name for p in tmp_path.iterdir()] == ["existing"] and not any(existing.iterdir())


MINT_CSV = "coin,y\na,1\na,0\nb,1\n"


@pytest.mark.parametrize("args, message", [
    (["verify", "gmm", "--set", "column=nonexistent"],
     "--set column=nonexistent: column applies only to a CSV given with --data"),
    (["run", "gmm", "--set", "column=y", "--out", "{out}"], "applies only to a CSV given with --data"),
    (["sbc", "gmm", "--set", "column=y", "--out", "{out}"], "applies only to a CSV given with --data"),
    (["run", "mint", "--data", "{csv}", "--set", "example=exercise1", "--out", "{out}"],
     "--set example=exercise1: example only chooses mint's bundled example, which --data replaces"),
    (["sweep", "mint", "--data", "{csv}", "--set", "example=exercise1", "--over", "K=5,20",
      "--out", "{out}"], "which --data replaces"),
], ids=["verify gmm column", "run gmm column", "sbc gmm column", "run mint example", "sweep mint example"])
def test_a_setting_that_would_be_ignored_is_refused(rejects, args, message):
    """Issue 18: these exited 0 as if the setting had applied."""
    rejects([*args, *FAST] if args[0] != "sbc" else args, message, csv_text=MINT_CSV)


def test_settings_that_apply_are_accepted():
    from zoo.core.registry import get_model

    mint, gmm = get_model("mint"), get_model("gmm")
    assert mint.parse_settings(["example=exercise1"], user_data=False)["example"] == "exercise1"
    assert gmm.parse_settings(["column=y"], user_data=True)["column"] == "y"
    assert gmm.parse_settings(["column=y"])["column"] == "y"  # user_data unknown: not checked
    assert mint.parse_settings([], user_data=True)  # the default is not "given"


def test_console_shows_failures_and_the_worst_checks_with_a_count():
    """A model with many checks prints the failures and the largest |z| up to CONSOLE_ROWS,
    with a line counting the rest; the files keep every check."""
    from types import SimpleNamespace

    import pandas as pd

    from zoo.report.text import CONSOLE_ROWS, checks_table

    z = [0.1 * i for i in range(30)] + [-9.0]
    checks = pd.DataFrame({"name": [f"c{i}" for i in range(31)], "reference": 0.0,
                           "estimate": z, "mcse": 1.0, "z": z,
                           "passed": [abs(v) <= 4 for v in z]})
    result = SimpleNamespace(checks=checks, reference=SimpleNamespace(method="exact"))
    shown = [row[0] for row in checks_table(result, CONSOLE_ROWS)[1:]]
    assert len(shown) == CONSOLE_ROWS and "c30" in shown and "c29" in shown and "c0" not in shown
    assert len(checks_table(result)) == 32


def test_data_that_is_a_folder_is_named_so(rejects, tmp_path):
    """Issue 18: --data DIR said "no such file"."""
    rejects(["verify", "single-coin", "--data", str(tmp_path), *FAST], "is a folder; give a CSV file")


def test_a_wide_table_is_folded_to_the_terminal_width():
    """Issue 18: rat-tumors' alternatives table was 166 characters wide on an 80-column terminal."""
    from zoo.report.text import folded_columns

    rows = [["quantity", *(f"method_{i}" for i in range(12))],
            *([f"theta[{j}]", *(f"{0.123456 * i:.6g}" for i in range(12))] for j in range(3))]
    text = folded_columns(rows, 60)
    assert max(map(len, text.splitlines())) <= 60
    assert all(f"method_{i}" in text for i in range(12)) and text.count("quantity") > 1
    assert folded_columns(rows, 500).count("quantity") == 1


def test_sweep_writes_whole_settings_as_integers_and_labels_only_the_swept_values():
    """Issue 18: the CSV wrote K as 5.0, and sweep.png's log axis labelled its minor ticks."""
    import pandas as pd

    from zoo.tools.sweep import CELL_LEGEND, _value, plot

    assert (_value("5"), _value("0.5"), _value("1e3")) == (5, 0.5, 1000)
    assert isinstance(_value("5"), int) and "(reference) z" in CELL_LEGEND
    frame = pd.DataFrame({"K": [5, 200], "check": ["omega.mean"] * 2, "reference": [0.4, 0.4],
                          "estimate": [0.41, 0.39], "eti89_lb": [0.3, 0.3], "eti89_ub": [0.5, 0.5]})
    assert frame.to_csv(index=False).splitlines()[1].startswith("5,")
    axes = plot(frame, "K", "test").axes[0]
    assert axes.get_xscale() == "log" and not axes.xaxis.get_minorticklocs().size
    assert [label.get_text() for label in axes.get_xticklabels()] == ["5", "200"]


# --- issue 23: --out replaces only a folder the zoo wrote, and never its own input -------------
REPLACING = {
    "run": ["run", "single-coin", "--data", "{csv}", *FAST],
    "report": ["report", "single-coin", "--data", "{csv}", *FAST],
    "sweep": ["sweep", "single-coin", "--over", "grid=100,200", "--data", "{csv}", *FAST],
}


def users_folder(tmp_path):
    """Issue 23's reproduction: a folder of the user's holding notes, a subfolder and the CSV
    the command reads; what each file holds, to show that nothing changed."""
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("hi\n")
    (folder / "coin.csv").write_text("y\n1\n0\n1\n")
    return folder, {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def refuse_fitting(monkeypatch):
    import zoo.core.pipeline

    def fit(*args, **kwargs):
        raise AssertionError("fitted before checking --out")

    monkeypatch.setattr(zoo.core.pipeline, "run", fit)


@pytest.mark.parametrize("command", REPLACING)
def test_a_folder_the_zoo_did_not_write_is_refused_before_fitting(tmp_path, capsys, monkeypatch,
                                                                  command):
    """Issue 23: `zoo run single-coin --data d/coin.csv --out d` deleted notes.txt, sub/ and
    the input CSV itself, exit 0."""
    folder, before = users_folder(tmp_path)
    refuse_fitting(monkeypatch)
    args = [a.format(csv=folder / "coin.csv") for a in REPLACING[command]]
    assert main([*args, "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {folder}: holds the input" in err, err
    (folder / "coin.csv").rename(tmp_path / "coin.csv")  # the input elsewhere: still refused
    args = [a.format(csv=tmp_path / "coin.csv") for a in REPLACING[command]]
    assert main([*args, "--out", str(folder)]) == 2
    assert "the zoo did not write" in capsys.readouterr().err
    (tmp_path / "coin.csv").rename(folder / "coin.csv")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert (folder / "sub").is_dir()


def test_the_zoo_replaces_its_own_folder_but_not_a_file_added_to_it(tmp_path):
    from zoo.core.errors import UsageError
    from zoo.core.outputs import staged_folder, writable_folder

    out = tmp_path / "out"
    for version in (b"1", b"2"):  # its own output is replaced, run after run
        with staged_folder(out) as staging:
            (staging / "model").mkdir()
            (staging / "model" / "page.html").write_bytes(version)
        assert writable_folder(out, replaces=True) == out
    assert (out / "model" / "page.html").read_bytes() == b"2" and (out / MARKER).is_file()
    (out / "model" / "mine.txt").write_text("a note of the user's")
    with pytest.raises(UsageError, match=r"model/mine.txt was not written by the zoo"):
        writable_folder(out, replaces=True)
    with pytest.raises(UsageError, match="not written by the zoo"), staged_folder(out):
        pass
    assert (out / "model" / "mine.txt").read_text() == "a note of the user's"


@pytest.mark.parametrize("command", ["run", "report", "sbc", "methods"])
def test_the_working_folder_and_a_mount_point_are_refused_up_front(tmp_path, monkeypatch, capsys,
                                                                   command):
    """Issue 23: `--out .` failed only after the whole fit ("Device or resource busy")."""
    refuse_fitting(monkeypatch)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for out, message in [(".", "is the working folder"), (str(tmp_path), "holds the working folder"),
                         ("/", "is a mount point")]:
        assert main([command, "single-coin", "--out", out]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (out, err)
    assert list(work.iterdir()) == []


def test_the_api_refuses_a_folder_the_zoo_did_not_write(tmp_path):
    import zoo

    folder, before = users_folder(tmp_path)
    for write in (lambda: zoo.write(None, folder), lambda: zoo.make_site([], folder)):
        with pytest.raises(zoo.UsageError, match="the zoo did not write"):
            write()
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("command", [
    ["run", "single-coin"], ["verify", "single-coin"], ["report"], ["sweep", "mint", "--over", "K=5"],
    ["sbc", "single-coin"], ["methods", "single-coin"], ["power"], ["bench"],
    ["posteriordb", "verify", "Rate_1", "--db", "db"]])
def test_every_long_command_takes_quiet(command):
    """Issue 23: `methods`, `sbc` and `power` refused --quiet; every command that fits takes
    it (one definition, zoo.cli.quiet_option), and it is off by default."""
    from zoo.cli import build_parser

    assert build_parser(command).parse_args([*command, "--quiet"]).quiet is True
    assert build_parser(command).parse_args(command).quiet is False


def test_the_api_names_its_keywords(tmp_path):
    """Issue 23: the shared checks said --set and --out in the API, where one types settings=
    and out= (and "draws=0" on the command line: test_bad_options_are_one_line_exit_2)."""
    import zoo

    for call, message in [
            (lambda: zoo.verify("single-coin", draws=0), "draws=0: must be"),
            (lambda: zoo.verify("mint", settings={"K": "one"}), "settings='K=one': "),
            (lambda: zoo.verify("mint", settings={"L": 2}), "settings='L': mint has no setting"),
            (lambda: zoo.make_site([], tmp_path / "file"), f"out='{tmp_path / 'file'}': exists")]:
        (tmp_path / "file").write_text("")
        with pytest.raises(zoo.UsageError) as raised:
            call()
        assert str(raised.value).startswith(message) and "--" not in str(raised.value), raised.value


def test_too_few_draws_are_named_with_what_to_do(capsys):
    """Issue 23: `--draws 50` gave NOT CONVERGED with no hint that verify wants bulk ESS 400."""
    assert main(["verify", "single-coin", "--draws", "50", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "NOT CONVERGED" in out and "< 400 for theta; raise --draws (now 50)" in out
