"""The report as a person sees it: headless Chromium opens the index and every model's page
from disk, every image must load, the tables must be there, and a screenshot is kept in
``reports/screenshots/`` as an artifact. The site holds every registered model, each verified
on its example with the session's FAST settings (``example_run``, shared with the other tests
of the worker), and is built once for this file."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from zoo.core.registry import all_models
from zoo.report import figures
from zoo.report import site as site_module

from test_site import TABLES

SCREENSHOTS = Path(__file__).resolve().parent.parent / "reports" / "screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


#: every registered model's page, and the index
PAGES = ["index.html", *(f"{name}/index.html" for name in all_models())]


def find_chromium() -> str:
    """Debian's chromium (.ci/run installs it); in CI its absence is a failure, not a skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium not found; .ci/run installs Debian's chromium package")
    pytest.skip("chromium not found (apt-get install chromium); CI installs it and never skips")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = find_chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")

    def open_page(page: Path, *mode: str) -> str:
        command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *mode, page.as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    return open_page


@pytest.fixture(scope="module")
def site(tmp_path_factory, example_run) -> Path:
    """The site of every registered model (issue 23: rat-tumors' page crashed the report
    wherever dot is installed, and no test built it)."""
    out = tmp_path_factory.mktemp("every-model") / "site"
    site_module.build_site([example_run(name) for name in all_models()], out,
                           command="pytest every model")
    return out


def test_every_model_page_shows_its_graph_or_says_in_plain_words_why_not(site):
    """With graphviz's dot (CI installs it) every page shows PyMC's model graph; a caption
    says in one plain sentence what PyMC could not draw, never an exception's text."""
    if figures.graph_missing_reason() is not None:
        if os.environ.get("CI"):
            pytest.fail(figures.graph_missing_reason())
        pytest.skip(figures.graph_missing_reason())
    for name in all_models():
        page = (site / name / "index.html").read_text()
        caption = re.search(r'<img src="model_graph.svg"[^>]*><figcaption>([^<]*)</figcaption>',
                            page)
        assert caption and (site / name / "model_graph.svg").stat().st_size > 1_000, name
        assert not re.search(r"\w+Error\b|Exception", caption[1]), (name, caption[1])
    assert "flat priors" in (site / "rat-tumors" / "index.html").read_text()


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_every_image_loaded(browser, site, page):
    tables = ["models", "provenance"] if page == "index.html" else TABLES
    path = site / page
    dom = browser(path, "--virtual-time-budget=10000", "--dump-dom")
    loaded = re.search(r'<body[^>]*data-images="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load script did not run"
    assert loaded[1] == loaded[2], f"{loaded[1]} of {loaded[2]} images loaded in {page}"
    assert 'data-broken="1"' not in dom
    if page != "index.html":
        assert int(loaded[2]) >= 6  # five generic plots and the model's own
        # what a reader meets first: the verdict, then a plot, before the first full table
        verdict, plot = dom.index('id="verdict"'), dom.index("<img")
        first_full = min(dom.index(f'<table id="{t}">') for t in ["checks", "alternatives", "summary"])
        assert verdict < plot < first_full and dom.rindex("<details", 0, first_full) > plot
    for table in tables:
        assert re.search(rf'<table id="{table}">\s*<thead>', dom), f"table {table} missing in {page}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / (page.replace("/", "-").removesuffix(".html") + ".png")
    shot.unlink(missing_ok=True)
    browser(path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.stat().st_size > 10_000  # a blank page compresses to a few kB


def test_a_missing_image_is_caught(browser, site, tmp_path):
    """The check can fail: the same page without its PNGs reports no image loaded."""
    page = tmp_path / "index.html"
    shutil.copy(site / "single-coin" / "index.html", page)
    dom = browser(page, "--virtual-time-budget=10000", "--dump-dom")
    loaded = re.search(r'<body[^>]*data-images="(\d+)/(\d+)"', dom)
    assert loaded and loaded[1] == "0" and int(loaded[2]) >= 6
    assert 'data-broken="1"' in dom
