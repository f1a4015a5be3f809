"""The models x methods table of docs/methods.md, generated from a committed `zoo methods`
summary (tests/test_docs_tables.py keeps the page and the file in step).

Usage: python benchmarks/methods_table.py [SUMMARY.json]   (default: the newest committed run)
"""

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SUMMARY = RESULTS / "methods-2026-12-03" / "summary.json"
METHODS = ("nutpie", "pymc", "numpyro", "blackjax", "smc", "advi", "fullrank_advi", "pathfinder",
           "laplace", "map")


def cell(result: dict | None) -> str:
    """A method's grade, worst |bias| and worst sd ratio with their intervals, and wall time."""
    if result is None:
        return "not run"
    parts = [result["grade"]]
    if result["worst_bias"] is not None:
        parts.append(f"{result['worst_bias']:+.2f} sd [{result['worst_bias_low']:+.2f}, "
                     f"{result['worst_bias_high']:+.2f}]")
    if result["worst_sd_ratio"] is not None:
        parts.append(f"sd x{result['worst_sd_ratio']:.2f} [{result['worst_sd_ratio_low']:.2f}, "
                     f"{result['worst_sd_ratio_high']:.2f}]")
    if result["total_s"] is not None:
        parts.append(f"{result['total_s']:.0f} s")
    return ", ".join(parts)


def table(summary: dict) -> str:
    """One row per model (sorted), one column per method."""
    lines = ["| model | " + " | ".join(METHODS) + " |", "| --- " * (len(METHODS) + 1) + "|"]
    for name in sorted(summary["models"]):
        methods = summary["models"][name]["methods"]
        lines.append(f"| `{name}` | " + " | ".join(cell(methods.get(m)) for m in METHODS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SUMMARY
    print(table(json.loads(path.read_text())))
