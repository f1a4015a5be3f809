"""The layers stay layers (issue 27 items 1-2): every import of every module of the zoo and of
its models, read with ``ast`` wherever it stands (in a function too), makes a graph that has no
circle, and whose edges go down the layers only:

    top (zoo, cli, api, __main__)  ->  tools  ->  report  ->  numerics  ->  core
    models                         ->  report, numerics, core

A tool never imports a model's module (a model reaches a tool through the contract's hooks),
the core never imports a model (the registry finds them by name), and nothing below the top
imports the top. A string naming a zoo module (``importlib.import_module("zoo.tools.sbc")``,
``zoo.__init__``'s table; a package's name, e.g. for its templates, is not) is an import too. Imports under ``if TYPE_CHECKING:`` never run: they
are held to the layers but not to the circle. Apart from the top's deferral of the commands'
machinery, a zoo module is imported at the top of the module that uses it, and so is a library,
unless ``zoo.core.deferred.IMPORTED_IN_FUNCTIONS`` names it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: a layer and the layers it may import (its own included)
MAY_IMPORT = {
    "top": {"top", "tools", "report", "numerics", "core", "models"},
    "tools": {"tools", "report", "numerics", "core"},
    "report": {"report", "numerics", "core"},
    "numerics": {"numerics", "core"},
    "core": {"core"},
    "models": {"models", "report", "numerics", "core"},
}
TOP = {"zoo", "zoo.__main__", "zoo.cli", "zoo.api"}


def layer(module: str) -> str:
    if module in TOP:
        return "top"
    return module.split(".")[1]


def modules() -> dict[str, Path]:
    """Every module of the zoo and of its models, by its installed name."""
    found = {}
    for folder, package in ((ROOT / "zoo", "zoo"), (ROOT / "models", "zoo.models")):
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join([package, *parts[:-1]] + ([] if parts[-1] == "__init__" else [parts[-1]]))
            found[name] = path
    return found


MODULES = modules()


def resolved(name: str) -> str | None:
    """The zoo module that ``name`` (a module, or a name inside one) belongs to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


class Imports(ast.NodeVisitor):
    """A module's imports of zoo modules: (module, at the top, runs) for each."""

    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.found: list[tuple[str, bool, bool]] = []
        self.depth, self.type_checking = 0, False

    def add(self, name: str | None) -> None:
        target = resolved(name) if name and name.startswith("zoo") else None
        if target and target != self.module:
            self.found.append((target, self.depth == 0, not self.type_checking))

    def visit_FunctionDef(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node):
        if "TYPE_CHECKING" in ast.unparse(node.test):
            self.type_checking = True
            for child in node.body:
                self.visit(child)
            self.type_checking = False
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            self.add(alias.name)

    def visit_ImportFrom(self, node):
        base = node.module or ""
        if node.level:
            package = self.module if self.is_package else self.module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            self.add(f"{base}.{alias.name}")

    def visit_Constant(self, node):
        if isinstance(node.value, str) and node.value in MODULES and MODULES[node.value].name != "__init__.py":
            self.add(node.value)


def imports() -> dict[str, list[tuple[str, bool, bool]]]:
    found = {}
    for name, path in MODULES.items():
        visitor = Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(), str(path)))
        found[name] = visitor.found
    return found


IMPORTS = imports()


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph`` (its modules in order, the first repeated last), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return path[path.index(child):] + [child]
            if child not in state and (found := visit(child)):
                return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_modules_are_found():
    assert {"zoo.cli", "zoo.core.model", "zoo.report.site", "zoo.tools.sbc",
            "zoo.models.gmm"} <= set(MODULES)
    assert ("zoo.core.model", True, True) in IMPORTS["zoo.core.pipeline"]


def test_no_import_circle():
    graph = {module: {target for target, _, runs in found if runs}
             for module, found in IMPORTS.items()}
    found = circle(graph)
    assert found is None, "import circle: " + " -> ".join(found)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    """core <- numerics <- report <- tools <- top; models stand on the first three."""
    allowed = MAY_IMPORT[layer(module)]
    wrong = sorted({target for target, _, _ in IMPORTS[module]
                    if layer(target) not in allowed and not _discovery(module, target)})
    assert not wrong, f"{module} ({layer(module)}) imports {wrong}"


def _discovery(module: str, target: str) -> bool:
    """The registry imports the models' package (not a model) to find the models in it."""
    return module == "zoo.core.registry" and target == "zoo.models"


def test_no_tool_imports_a_model():
    for module, found in IMPORTS.items():
        if layer(module) == "tools":
            models = sorted({t for t, _, _ in found if t.startswith("zoo.models.")})
            assert not models, f"{module} imports {models}: give the model a hook instead"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) != "top"))
def test_zoo_modules_are_imported_at_the_top(module):
    """Only the top defers the commands' machinery (``zoo --help`` must not wait for it)."""
    late = sorted({target for target, top, _ in IMPORTS[module] if not top})
    assert not late, f"{module} imports {late} inside a function"


def libraries_imported_in_functions(path: Path) -> set[str]:
    """The top-level packages other than the zoo that a function of ``path`` imports."""
    found = set()
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - {"zoo"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_library_is_imported_in_a_function_only_where_deferred_says(module):
    """Issue 27 item 1: imports at the top, except the heavy and optional libraries that
    ``zoo.core.deferred`` names (its docstring says why, once)."""
    from zoo.core.deferred import IMPORTED_IN_FUNCTIONS

    late = libraries_imported_in_functions(MODULES[module]) - IMPORTED_IN_FUNCTIONS
    assert not late, f"{module} imports {sorted(late)} inside a function"


def test_the_check_sees_a_circle_and_a_layer_broken():
    assert circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert circle({"a": {"b"}, "b": set()}) is None
    assert "tools" not in MAY_IMPORT["core"] and "models" not in MAY_IMPORT["tools"]
