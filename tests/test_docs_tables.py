"""The tables of docs/ are generated from committed result files, never pasted by hand."""

import json
import re
from pathlib import Path

from benchmarks.methods_table import SUMMARY, table

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_methods_page_shows_the_committed_methods_summary():
    page = (DOCS / "methods.md").read_text()
    shown = re.search(r"<!-- methods-table -->\n(.*?)\n<!-- /methods-table -->", page, re.S)
    assert shown, "docs/methods.md has no generated methods table"
    assert shown.group(1) == table(json.loads(SUMMARY.read_text()))
