"""The report site: one build per session for the two coin models, read back as files."""

import dataclasses
import functools
import html
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import FAST
from zoo.cli import main
from zoo.core.diagnostics import scalar_draws
from zoo.core.pipeline import run
from zoo.core.registry import all_models, get_model
from zoo.core.results import DensityCheck
from zoo.models.two_factories import MODEL as TWO_FACTORIES
from zoo.report import figures
from zoo.report import site as site_module
from zoo.report.figures import panel_scalars, reference_moments
from zoo.report.text import console, status

MODELS = ["single-coin", "two-factories"]
TABLES = ["data", "settings", "checks", "alternatives", "summary", "provenance"]
GENERIC_PLOTS = ["trace.png", "rank.png", "posterior.png", "energy.png", "ppc.png"]


@functools.cache
def demo_results() -> tuple:
    return tuple(run(get_model(name), config=FAST) for name in MODELS)


@functools.cache
def demo_site(session_folder: Path) -> Path:
    """The site for the two coin models, built once per session (the browser test reads it too)."""
    out = session_folder / "demo-site"
    site_module.build_site(list(demo_results()), out, command="pytest demo")
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return demo_site(tmp_path_factory.getbasetemp())


def local_links(page: Path) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#]+)"', page.read_text())


def test_index_has_a_row_and_a_working_link_per_model(site):
    index = (site / "index.html").read_text()
    for name in MODELS:
        assert f'href="{name}/index.html"' in index
        assert (site / name / "index.html").is_file()
    rows = re.findall(r"<tr>\s*<td><a", index)
    assert len(rows) == len(MODELS)
    for header in ["status", "worst |z|", "max R-hat", "min ESS", "divergences", "sampler", "wall time"]:
        assert header in index


def test_every_link_and_image_is_inside_the_folder(site):
    for page in site.rglob("*.html"):
        for link in local_links(page):
            assert "://" not in link, f"{page} refers outside the site: {link}"
            assert (page.parent / link).is_file(), f"{page}: missing {link}"


@pytest.mark.parametrize("name, own_plot", [("single-coin", "grid.png"), ("two-factories", "kappa.png")])
def test_model_page_has_tables_plots_and_provenance(site, name, own_plot):
    page = (site / name / "index.html").read_text()
    for table in TABLES:
        assert f'<table id="{table}">' in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert set(GENERIC_PLOTS) | {own_plot} <= set(images)
    kind = {"single-coin": "quadrature", "two-factories": "exact"}[name]  # its triangular prior
    for needle in ["pytest demo", f"{FAST.seed}", "version of pymc", "version of jinja2", "wall time",
                   f"reference: {kind}"]:  # what the verdict rests on
        assert needle in page
    assert re.search(r'<p id="density-check">Log-density cross-check: log density agrees with the '
                     r"model's formulas: max deviation \S+ \(<= \S+\) at \d+ points",
                     html.unescape(page))
    if name == "two-factories":  # p_factory[1] shown, not counted
        assert "2/2 checks within" in page and "p_factory[1] from p_factory[0]: derived" in page


def test_a_disagreeing_log_density_fails_the_run_everywhere_it_is_shown():
    result = demo_results()[0]
    assert result.passed and "log density agrees" in console(result).splitlines()[-1]
    failed = dataclasses.replace(result, density_check=DensityCheck(False, 0.5, 1e-8, 25, 0.1))
    assert not failed.passed and status(failed) == "FAIL"
    assert "log density DISAGREES" in console(failed).splitlines()[-1]
    assert json.loads(failed.to_json())["density_check"] == {
        "passed": False, "max_deviation": 0.5, "tolerance": 1e-8, "points": 25, "seconds": 0.1}


def test_page_leads_with_the_verdict_and_plots_and_folds_the_full_tables(site):
    """Issue 18's reader: verdict, then plots, then compact tables; the full tables folded in
    <details> and written beside the page as CSV; the model as a formula and a few sentences,
    not the docstring."""
    for name in MODELS:
        page = (site / name / "index.html").read_text()
        verdict, plot, main = (page.index(s) for s in ('id="verdict"', "<img", 'id="main"'))
        assert verdict < plot < main < page.index("<details")
        for table in ["checks", "alternatives", "summary"]:
            folded = re.search(rf'<details[^>]*>.*?<table id="{table}">.*?</details>', page, re.S)
            assert folded, f"{name}: the full {table} table is not folded"
            assert f'href="{table}.csv"' in page and (site / name / f"{table}.csv").is_file()
        assert '<img class="formula" src="formula.png"' in page
        assert get_model(name).summary in html.unescape(page)
        assert "Reference ``exact``" not in page and "References:" not in page  # no docstring
    checks = (site / "single-coin" / "checks.csv").read_text().splitlines()
    assert checks[0].split(",") == ["name", "reference", "estimate", "mcse", "z", "passed",
                                    "reference_error"] and len(checks) == 3


def test_index_says_what_each_model_is_with_a_picture(site):
    index = (site / "index.html").read_text()
    for name in MODELS:
        assert get_model(name).title in html.unescape(index)
        thumbnail = re.search(rf'<a href="{name}/index.html"><img class="thumbnail" src="([^"]+)"', index)
        assert thumbnail and (site / thumbnail[1]).is_file()


def test_zoo_wide_sections_are_linked_from_the_top_of_the_index(tmp_path, monkeypatch):
    monkeypatch.setattr(site_module, "_write_model_page", lambda *args: "")  # the index alone
    sections = [{"title": "Benchmark", "rows": [["a", "b"], ["1", "2"]], "notes": ["n"]}]
    index = site_module.build_site(list(demo_results())[:1], tmp_path / "site",
                                   sections=sections).index.read_text()
    assert index.index('href="#zoo-wide-1"') < index.index('<table id="models">')
    assert '<h2 id="zoo-wide-1">Benchmark</h2>' in index


def test_checks_plot_marks_failures_and_values_that_are_not_finite(tmp_path):
    import pandas as pd

    z = [0.5, -1.0, 6.0, float("nan")] + [0.1] * 30
    checks = pd.DataFrame({"name": [f"c[{i}]" for i in range(len(z))], "z": z,
                           "passed": [abs(v) <= 4 for v in z]})
    result = SimpleNamespace(checks=checks, z_bound=4.0)
    assert figures._checks(result, None, tmp_path / "checks.png") is None
    assert (tmp_path / "checks.png").stat().st_size > 5_000


def test_every_model_formula_renders_and_one_without_is_said(tmp_path):
    """Each model's TeX lines parse in mathtext; a model that gives none (the default) gets no
    image, and its page says so instead of failing."""
    for name, model in all_models().items():
        folder = tmp_path / name
        folder.mkdir()
        if model.formula:
            assert figures.formula_image(model, folder).stat().st_size > 1_000, name
    assert figures.formula_image(SimpleNamespace(formula=[]), tmp_path) is None


def test_markdown_twin_links_the_same_plots(site):
    for name in MODELS:
        text = (site / name / "index.md").read_text()
        assert "## Reference against posterior" in text and "## Plots" in text
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            assert (site / name / image).is_file()
    assert "(single-coin/index.md)" in (site / "index.md").read_text()


def test_values_are_escaped_not_pasted(site):
    """Jinja2 autoescapes: the docstring's '<=' cannot open a tag."""
    page = (site / "single-coin" / "index.html").read_text()
    assert "&lt;= 4" in page


def test_reference_lines_come_from_the_checks():
    result = demo_results()[1]
    moments = reference_moments(result)
    reference = TWO_FACTORIES.reference(result.data, result.settings).values
    assert moments["p_factory[0]"] == (pytest.approx(reference["p_factory[0]"]), None)
    assert "log_bf" not in moments  # an SMC estimate, not a posterior variable
    assert panel_scalars(result, scalar_draws(result.fit.idata))[:2] == ["p_factory[0]", "p_factory[1]"]


def test_interrupted_build_keeps_the_previous_site(tmp_path, monkeypatch):
    from zoo.core.outputs import staged_folder

    out = tmp_path / "site"
    with staged_folder(out) as previous:  # a site the zoo wrote: one it may replace
        (previous / "index.html").write_text("previous")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(site_module, "draw_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        site_module.build_site(list(demo_results()), out)
    assert (out / "index.html").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_report_command_builds_a_site_and_rejects_bad_options(tmp_path, capsys):
    out = tmp_path / "site"
    status = main(["report", "single-coin", "--draws", "600", "--tune", "300", "--seed", "3",
                   "--quiet", "--out", str(out)])
    assert status == 0
    assert (out / "single-coin" / "index.html").is_file()
    assert "writing the site took" in capsys.readouterr().out
    assert main(["report", "single-coin", "two-factories", "--set", "kappa=20",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "name exactly one" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_energy_plot_is_replaced_by_a_note_when_the_sampler_stores_no_energy(tmp_path):
    """SMC output has no energy: the page says so instead of showing a broken image."""
    nuts = demo_results()[0]
    without_energy = nuts.fit.idata.copy()
    without_energy["sample_stats"] = nuts.fit.idata["sample_stats"].to_dataset().drop_vars("energy")
    smc_like = SimpleNamespace(fit=SimpleNamespace(idata=without_energy),
                               config=SimpleNamespace(sampler="smc"))
    note = figures._energy(smc_like, None, tmp_path / "energy.png")
    assert "no energy" in note and not (tmp_path / "energy.png").exists()
    assert figures._energy(nuts, None, tmp_path / "energy.png") is None
    assert (tmp_path / "energy.png").stat().st_size > 0


@pytest.mark.parametrize("laid_out", [True, False])
def test_panel_titles_clear_the_tick_labels_above(tmp_path, laid_out):
    """Issue 18: mint's eta[1] title overlapped the tick labels of the panel above it; the check
    can fail (False: ArviZ's own layout, saved as before)."""
    import arviz as az
    import numpy as np
    import xarray as xr

    draws = np.random.default_rng(0).normal(size=(2, 100))
    posterior = xr.Dataset({f"eta[{i}]": (("chain", "draw"), draws) for i in range(5)},
                           coords={"chain": [0, 1], "draw": np.arange(100)})
    plot = az.plot_dist(xr.DataTree.from_dict({"posterior": posterior}))
    if laid_out:
        figures.save_plot(plot, tmp_path / "dist.png")
    else:
        plot.savefig(tmp_path / "dist.png", dpi=figures.DPI)
    renderer = plot.viz["figure"].item().canvas.get_renderer()
    title = plot.viz["title"]["eta[4]"].item().get_window_extent(renderer)
    above = plot.viz["plot"]["eta[0]"].item().get_xticklabels()
    overlaps = any(title.overlaps(label.get_window_extent(renderer)) for label in above if label.get_text())
    assert overlaps != laid_out


def test_compact_tables_pick_the_main_quantities_and_the_largest_z():
    """rat-tumors' page: alpha, beta and the like as main quantities, not its 71 theta_j; the
    worst table of the others by |z| from the largest, a failure or NaN first; none where every
    check is a main quantity (gmm)."""
    import pandas as pd

    names = ["alpha.mean", "alpha.sd", *(f"theta[{j}].mean" for j in range(71)), "log_bf"]
    z = [0.1, -0.2, *np.linspace(-3, 2, 71), float("nan")]
    checks = pd.DataFrame({"name": names, "z": z, "passed": [abs(v) <= 4 for v in z]})
    result = SimpleNamespace(checks=checks)
    assert site_module.main_checks(result) == ["alpha.mean", "alpha.sd", "log_bf"]
    worst = site_module.worst_checks(result)  # issue 23: not the main table's rows again
    assert worst[:2] == ["theta[0].mean", "theta[1].mean"] and len(worst) == 10
    assert site_module.worst_checks(SimpleNamespace(checks=checks.iloc[[0, 1, 2, 73]])) == []


def test_posterior_nc_reproduces_the_pages_predictive_check_and_loo(tmp_path):
    """Issue 18.9: posterior.nc held only posterior, sample_stats and the data, while the page
    shows a predictive check and LOO; now it holds the same replicated draws and the pointwise
    log-likelihood."""
    import arviz as az

    from zoo.report.predictive import posterior_predictive
    from zoo.report.text import write_run

    result = demo_results()[0]
    write_run(result, tmp_path / "run")
    tree = az.from_netcdf(tmp_path / "run" / "posterior.nc")
    assert {"posterior", "sample_stats", "observed_data", "posterior_predictive",
            "log_likelihood"} <= set(tree.children)
    on_page = posterior_predictive(result)["posterior_predictive"]["y"].values
    np.testing.assert_array_equal(tree["posterior_predictive"]["y"].values, on_page)
    assert tree["log_likelihood"]["y"].shape == (FAST.chains, FAST.draws, len(result.data))
    assert np.isfinite(az.loo(tree).elpd)


@pytest.mark.skipif(figures.graph_missing_reason() is not None, reason="needs graphviz's dot")
def test_every_model_graph_is_drawn_with_each_variable(tmp_path):
    """PyMC's model graph of every registered model, rat-tumors' pm.Flat hyperpriors included
    (PyMC's plate detection samples them and fails): an SVG naming every variable."""
    for name, model in all_models().items():
        settings = model.parse_settings([])
        pymc_model = model.build(model.default_data(settings), settings)
        folder = tmp_path / name
        folder.mkdir()
        graph = figures.model_graph(pymc_model, folder)
        assert graph.path is not None, (name, graph.note)
        svg = graph.path.read_text()
        for variable in pymc_model.named_vars:
            assert variable in svg, (name, variable)


@pytest.mark.skipif(figures.graph_missing_reason() is not None, reason="needs graphviz's dot")
def test_a_graph_drawn_without_pymcs_plates_says_why_in_plain_words(tmp_path):
    """rat-tumors' caption read "NotImplementedError: Cannot sample from flat variable": one
    plain sentence now names what PyMC could not draw and why, with no exception text."""
    model = get_model("rat-tumors")
    settings = model.parse_settings([])
    graph = figures.model_graph(model.build(model.default_data(settings), settings), tmp_path)
    assert graph.path is not None
    assert "Error" not in graph.note and "Cannot sample" not in graph.note
    assert "flat priors log_alpha_over_beta and log_alpha_plus_beta" in graph.note
    assert graph.note.endswith(".") and graph.note.count(". ") == 0


def test_a_graph_that_cannot_be_drawn_is_a_note_not_a_crash(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("dot crashed")

    monkeypatch.setattr(figures, "_graph_with_plates", broken)
    monkeypatch.setattr(figures, "_graph_with_known_shapes", broken)
    settings = TWO_FACTORIES.parse_settings([])
    pymc_model = TWO_FACTORIES.build(TWO_FACTORIES.default_data(settings), settings)
    graph = figures.model_graph(pymc_model, tmp_path)
    assert graph.path is None and "RuntimeError: dot crashed" in graph.note


def test_a_plot_that_fails_is_a_note_naming_the_error_not_a_crash(tmp_path, monkeypatch):
    def broken(result, tree, path):
        path.write_bytes(b"half a png")
        raise ValueError("no band")

    monkeypatch.setattr(figures, "_rank", broken)
    drawn = figures.draw_all(demo_results()[0], tmp_path)
    assert "rank: could not be drawn (ValueError: no band)" in drawn.notes
    assert not (tmp_path / "rank.png").exists()
    assert (tmp_path / "trace.png").exists()


def test_density_panels_show_checked_quantities_the_worst_first_each_with_its_reference():
    """Issue 23: rat-tumors showed theta[0]-theta[3] (four alike 0/20 experiments) with no
    reference drawn, mint its internal eta, gmm left out w[2]. The panels are the checked
    scalars: model-level ones, then the others from the largest |z|; each has its reference
    moments, also where the check compares the fit's own (Rao-Blackwell) estimate."""
    import pandas as pd

    names = ["alpha.mean", "alpha.sd", *(f"theta[{j}].mean" for j in range(71)), "log_bf"]
    z = np.zeros(len(names))
    z[2 + 40], z[2 + 3], z[2 + 9] = 3.0, -2.5, 2.0
    checks = pd.DataFrame({"name": names, "z": z, "passed": True})
    draws = {name: np.zeros((2, 5)) for name in ["alpha", "eta[0]", *(f"theta[{j}]" for j in range(71))]}
    result = SimpleNamespace(
        checks=checks, model=SimpleNamespace(var_names=["eta"]),
        fit=SimpleNamespace(idata=SimpleNamespace(posterior={"alpha": 0, "theta": 0}),
                            estimates={f"theta[{j}].mean": None for j in range(71)}),
        reference=SimpleNamespace(values=dict(zip(names, np.arange(len(names), dtype=float)))))
    shown = panel_scalars(result, draws)
    assert shown[:4] == ["alpha", "theta[40]", "theta[3]", "theta[9]"] and len(shown) == figures.MAX_PANELS
    assert "eta[0]" not in shown
    moments = reference_moments(result)
    assert moments["theta[40]"] == (42.0, None) and moments["alpha"] == (0.0, 1.0)
    assert "log_bf" not in moments


def test_index_highlights_the_cells_past_their_bound(tmp_path):
    """Issue 23: a failing R-hat or ESS looked like any other number in the index."""
    from dataclasses import replace

    result = demo_results()[0]
    unconverged = replace(result, diagnostics=replace(result.diagnostics, r_hat_max=float("nan"),
                                                      ess_bulk_min=120.0))
    assert site_module.failing_cells(result) == []
    assert site_module.failing_cells(unconverged) == ["r_hat", "ess"]
    out = site_module.build_site([unconverged], tmp_path / "site", command="pytest").index
    cells = re.findall(r'<td class="failing"[^>]*>([^<]*)</td>', out.read_text())
    assert cells == ["nan", "120"]
    assert "| **nan** | **120** |" in (tmp_path / "site" / "index.md").read_text()


def _normal_tree(names):
    import xarray as xr

    rng = np.random.default_rng(0)
    posterior = xr.Dataset({n: (("chain", "draw"), rng.normal(size=(4, 200))) for n in names},
                           coords={"chain": np.arange(4), "draw": np.arange(200)})
    return xr.DataTree.from_dict({"posterior": posterior})


def test_rank_plot_has_its_band_and_y_axis_and_trace_names_are_whole(tmp_path):
    """Issue 23: the rank plots had no band and no y axis under a caption promising the band;
    the trace's vertical labels were cut ("log_alpha_over_bet")."""
    import matplotlib.pyplot as plt

    tree = _normal_tree(["log_alpha_over_beta", "b"])
    plt.close("all")
    figures._rank(None, tree, tmp_path / "rank.png")
    (figure,) = map(plt.figure, plt.get_fignums())
    panels = [axes for axes in figure.axes if axes.has_data()]
    assert len(panels) == 2
    for axes in panels:
        assert axes.collections, "no band"  # fill_between's PolyCollection
        assert axes.yaxis.get_visible() and any(t.get_text() for t in axes.get_yticklabels())
    plt.close("all")
    figures._trace(None, tree, tmp_path / "trace.png")
    (figure,) = map(plt.figure, plt.get_fignums())
    titles = [axes.get_title(loc="left") for axes in figure.axes]
    assert "log_alpha_over_beta" in titles and not any(a.get_ylabel() for a in figure.axes
                                                      if a.get_xlabel() == "Draw")
    plt.close("all")


@pytest.mark.parametrize("kind", ["rootogram", "dist", "tstat"])
def test_predictive_plot_has_a_legend_for_observed_and_replicated(kind):
    """Issue 23: the posterior predictive plot had no legend (only the caption said which was
    which); each of the three kinds the page draws now has one, in the plot's own colours."""
    import arviz as az
    import matplotlib.pyplot as plt
    import xarray as xr

    rng = np.random.default_rng(0)
    size = 1 if kind == "tstat" else 30
    def draw(shape):  # continuous for the density kind, counts otherwise, as _ppc chooses
        return rng.normal(3, 1, shape) if kind == "dist" else rng.poisson(3, shape)

    tree = xr.DataTree.from_dict({
        "posterior_predictive": xr.Dataset({"y": (("chain", "draw", "observation"),
                                                  draw((2, 50, size)))}),
        "observed_data": xr.Dataset({"y": (("observation",), draw(size))})})
    plt.close("all")
    plot = {"rootogram": lambda: az.plot_ppc_rootogram(tree),
            "dist": lambda: az.plot_ppc_dist(tree, num_samples=20),
            "tstat": lambda: az.plot_ppc_tstat(tree, t_stat="mean", kind="ecdf")}[kind]()
    figures.ppc_legend(plot)
    (legend,) = plot.viz["figure"].item().legends
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["observed data", "replicated from the posterior"]
    observed, replicated = (np.asarray(matplotlib_colour(h)) for h in legend.legend_handles)
    assert observed[:3].tolist() == [0, 0, 0] and not np.allclose(replicated[:3], 0)
    plt.close("all")


def matplotlib_colour(handle):
    from matplotlib.colors import to_rgba

    colour = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()[0]
    return to_rgba(colour)


def test_data_summary_prints_counts_as_whole_numbers():
    """Issue 23: gmm's 10,000 rows were "count 1e+04"."""
    import pandas as pd

    result = SimpleNamespace(data=pd.DataFrame({"x": np.linspace(0, 1, 10_000),
                                                "group": ["a", "b"] * 5_000}))
    header, *rows = site_module.data_summary(result)
    by_column = {row[0]: dict(zip(header, row)) for row in rows}
    assert by_column["x"]["count"] == "10,000" and by_column["group"]["freq"] == "5,000"
    assert by_column["x"]["mean"] == "0.5" and by_column["group"]["mean"] == ""


def test_z_plot_of_many_checks_names_several_and_is_wide(tmp_path, monkeypatch):
    """Issue 23: rat-tumors' 151 dots carried one label, on a plot about 500 px wide."""
    import pandas as pd

    z = np.sin(np.arange(151))
    checks = pd.DataFrame({"name": [f"theta[{j}].mean" for j in range(151)], "z": z,
                           "passed": True})
    saved = []
    monkeypatch.setattr(figures, "save", lambda figure, *args, **kwargs: saved.append(figure))
    figures._checks(SimpleNamespace(checks=checks, z_bound=4.0), None, tmp_path / "checks.png")
    (ax,) = saved[0].axes
    largest = {f"theta[{j}].mean" for j in np.argsort(-np.abs(z))[:figures.LABELLED]}
    assert {text.get_text() for text in ax.texts} == largest and figures.LABELLED >= 5
    assert saved[0].get_figwidth() * 100 >= 900


def test_an_ess_under_its_floor_says_to_raise_the_draws_in_the_readers_words(tmp_path):
    """Issue 23: --draws 200 gave NOT CONVERGED (bulk ESS under 400) with no hint. The console
    (the command line's --draws) and the page built from Python (draws=) say what to do."""
    from dataclasses import replace

    from zoo.core import option_names

    result = demo_results()[0]
    short = replace(result, diagnostics=replace(result.diagnostics, ess_bulk_min=310.0,
                                                problems=["bulk ESS 310 < 400 for theta"]))
    with option_names.on_command_line():
        assert "problem: bulk ESS 310 < 400 for theta; raise --draws (now 500)" in console(short)
    site_module.build_site([short], tmp_path / "site", command="pytest")
    page = html.unescape((tmp_path / "site" / "single-coin" / "index.html").read_text())
    assert "problem: bulk ESS 310 < 400 for theta; raise draws= (now 500)" in page
    assert "raise" not in console(result)  # converged: no advice


def test_the_index_wall_time_is_the_run_lines(site):
    """Issue 23: the index's wall time (reference + fit + the page) differed from the console's
    "time ... s" (every phase of the run); both show the run's recorded total now."""
    for result in demo_results():
        total = f"{result.seconds['total']:.1f}"
        assert f"time {total} s:" in console(result).splitlines()[-1]
        assert site_module.index_row(result)["seconds"] == total
    index = (site / "index.html").read_text()
    assert all(f"<td>{r.seconds['total']:.1f}</td>" in index for r in demo_results())


def test_the_z_plot_names_checks_outside_the_band_without_overlap(tmp_path, monkeypatch):
    """Of many checks the plot names the largest |z|; their labels sat beside their points,
    inside the band, covering neighbouring points and each other (rat-tumors' 151 checks).
    Now each label sits between the band and the plot's edge, on its point's side, apart."""
    import pandas as pd

    z = np.r_[2.0, 1.9, 1.8, np.zeros(100), -1.9, -1.8, -1.7]
    checks = pd.DataFrame({"name": [f"theta[{i}].mean" for i in range(len(z))], "z": z,
                           "passed": True})
    drawn = []
    monkeypatch.setattr(figures, "save", lambda figure, *args, **kwargs: drawn.append(figure))
    figures._checks(SimpleNamespace(checks=checks, z_bound=4.5), None, tmp_path / "checks.png")
    [figure] = drawn
    from matplotlib.text import Text

    axes = figure.axes[0]
    labels = axes.texts
    figure.canvas.draw()  # an annotation's text is placed when drawn
    boxes = [Text.get_window_extent(t, figure.canvas.get_renderer()) for t in labels]  # not the line
    heights = [axes.transData.inverted().transform((box.x0, box.y0 + box.height / 2))[1]
               for box in boxes]
    assert len(labels) == figures.LABELLED and all(abs(y) > 4.5 for y in heights), heights
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
