"""The zoo-wide tables the tools add to the report site, read from what each tool last wrote
beside the site: the report (:mod:`zoo.report.site`) shows them without knowing the tools,
which stand on it."""

from __future__ import annotations

import json
from pathlib import Path

from zoo.tools.bench.command import BENCH_JSON, SCALING_JSON
from zoo.tools.bench.command import site_sections as bench_sections
from zoo.tools.bench.scaling import site_section as scaling_section
from zoo.tools.methods.output import site_section as methods_section
from zoo.tools.power import site_notes as power_notes
from zoo.tools.power import site_rows as power_rows


def site_sections(reports: Path) -> list[dict]:
    """The last ``zoo bench`` (and its --scaling), ``zoo power`` and ``zoo methods`` found in
    ``reports``, each a section of the site's index (none for a tool that has not run)."""
    sections = []
    bench, power = reports / BENCH_JSON, reports / "power" / "summary.json"
    if bench.is_file():
        sections += bench_sections(json.loads(bench.read_text()), bench.name)
    scaling = reports / SCALING_JSON
    if scaling.is_file():
        sections.append(scaling_section(json.loads(scaling.read_text()), scaling.name))
    if power.is_file():
        doc = json.loads(power.read_text())
        sections.append({"title": "Power of the checks (injected faults)", "rows": power_rows(doc),
                         "notes": [f"From power/{power.name} (zoo power).", *power_notes(doc)]})
    methods = methods_section(reports / "methods")  # the last `zoo methods`, if any
    if methods:
        sections.append(methods)
    return sections
