"""The report site: one build per session for the two coin models, read back as files."""

import functools
import html
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import FAST
from zoo.models.two_factories import MODEL as TWO_FACTORIES
from zoo import figures
from zoo import site as site_module
from zoo.cli import main
from zoo.diagnostics import scalar_draws
from zoo.figures import panel_scalars, reference_moments
from zoo.pipeline import run
from zoo.registry import all_models, get_model

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
    for needle in ["pytest demo", f"{FAST.seed}", "version of pymc", "version of jinja2", "wall time",
                   "reference: exact"]:  # what the verdict rests on
        assert needle in page
    if name == "two-factories":  # p_factory[1] shown, not counted
        assert "2/2 checks within" in page and "p_factory[1] from p_factory[0]: derived" in page


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
    monkeypatch.setattr(site_module, "zoo_sections", lambda reports: [
        {"title": "Benchmark", "rows": [["a", "b"], ["1", "2"]], "notes": ["n"]}])
    index = site_module.build_site(list(demo_results())[:1], tmp_path / "site").index.read_text()
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
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("previous")

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
    assert "the report took" in capsys.readouterr().out
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
    worst table by |z| from the largest, a failure or NaN first."""
    import pandas as pd

    names = ["alpha.mean", "alpha.sd", *(f"theta[{j}].mean" for j in range(71)), "log_bf"]
    z = [0.1, -0.2, *np.linspace(-3, 2, 71), float("nan")]
    checks = pd.DataFrame({"name": names, "z": z, "passed": [abs(v) <= 4 for v in z]})
    result = SimpleNamespace(checks=checks)
    assert site_module.main_checks(result) == ["alpha.mean", "alpha.sd", "log_bf"]
    worst = site_module.worst_checks(result)
    assert worst[:3] == ["log_bf", "theta[0].mean", "theta[1].mean"] and len(worst) == 10


def test_posterior_nc_reproduces_the_pages_predictive_check_and_loo(tmp_path):
    """Issue 18.9: posterior.nc held only posterior, sample_stats and the data, while the page
    shows a predictive check and LOO; now it holds the same replicated draws and the pointwise
    log-likelihood."""
    import arviz as az

    from zoo.predictive import posterior_predictive
    from zoo.report import write_run

    result = demo_results()[0]
    write_run(result, tmp_path / "run")
    tree = az.from_netcdf(tmp_path / "run" / "posterior.nc")
    assert {"posterior", "sample_stats", "observed_data", "posterior_predictive",
            "log_likelihood"} <= set(tree.children)
    on_page = posterior_predictive(result)["posterior_predictive"]["y"].values
    np.testing.assert_array_equal(tree["posterior_predictive"]["y"].values, on_page)
    assert tree["log_likelihood"]["y"].shape == (FAST.chains, FAST.draws, len(result.data))
    assert np.isfinite(az.loo(tree).elpd)
