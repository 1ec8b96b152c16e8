"""No import circles in lupusim: the intra-package import graph of src/lupusim is acyclic.

The graph is built from the source (``ast``; nothing is imported): one node per module,
a package being its ``__init__``. An edge ``m -> t`` is an import of ``t`` written in
``m``: ``import lupusim.x``, ``from lupusim.x import y``, relative imports, and
``from package import submodule`` (an edge to the submodule). Two rules make the edges
those that Python executes:

* importing ``lupusim.a.b`` first runs the ``__init__`` of ``lupusim.a``, so the edge goes
  to every package on the way too, except the importing module's own packages (they are
  already being initialised when it runs);
* ``from P import submodule`` inside package ``P`` needs only the submodule, but
  ``from P import name`` needs ``P``'s ``__init__`` to have defined ``name``: an edge to
  ``P``.

Function-level imports count. They are edges that are taken later (on the first call),
and a function-level import that closes a circle is a circle that was merely deferred,
so the whole graph, module-level and function-level edges together, must be acyclic;
a function may still import lazily for start-up time or an optional dependency, as long
as the import does not close a circle. Imports under ``if TYPE_CHECKING:`` never run and
do not count.

The layering of ../shared/DESIGN.md that makes this possible is checked too:
``lupusim.clinical`` (a standalone library for real data) never reaches the model, and
``lupusim.report`` (which clinical uses for its report) reaches neither the simulator nor
the trial, studies or instruments.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "lupusim"


@dataclass
class ImportGraph:
    """Modules of a package and the imports between them."""

    modules: dict[str, Path]
    packages: set[str]
    #: module -> {target: deferred}, deferred = True when every import of the target in
    #: the module is inside a function
    edges: dict[str, dict[str, bool]] = field(default_factory=dict)

    def targets(self, module: str, *, deferred: bool = True) -> list[str]:
        return sorted(t for t, lazy in self.edges[module].items() if deferred or not lazy)


def build_graph(src: Path, package: str) -> ImportGraph:
    """The import graph of ``package`` under the source root ``src``."""
    modules: dict[str, Path] = {}
    packages: set[str] = set()
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            packages.add(".".join(parts))
        modules[".".join(parts)] = path
    graph = ImportGraph(modules, packages)
    for name, path in modules.items():
        visitor = _ImportVisitor(name, name in packages, modules, package)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        graph.edges[name] = visitor.edges
    return graph


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules: dict[str, Path], root: str):
        self.module = module
        self.is_package = is_package
        self.modules = modules
        self.root = root
        self.depth = 0  # function nesting
        self.edges: dict[str, bool] = {}

    # -- scopes
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._in_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._in_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._in_function(node)

    def _in_function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for child in node.orelse:  # only the else branch runs
                self.visit(child)
            return
        self.generic_visit(node)

    # -- imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == self.root or alias.name.startswith(self.root + "."):
                self._add(self._existing(alias.name))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            if not self.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        if not (target == self.root or target.startswith(self.root + ".")):
            return
        target = self._existing(target)
        subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in self.modules]
        inside = self.module == target or self.module.startswith(target + ".")
        if not (inside and len(subs) == len(node.names)):
            self._add(target)
        for sub in subs:
            self._add(sub)

    def _existing(self, name: str) -> str:
        while name not in self.modules and "." in name:
            name = name.rpartition(".")[0]
        return name

    def _add(self, target: str) -> None:
        if target == self.module:
            return
        parts = target.split(".")
        for name in [*(".".join(parts[:i]) for i in range(1, len(parts))), target]:
            own = self.module == name or self.module.startswith(name + ".")
            if own and name != target:
                continue  # the importing module's own package: already initialising
            lazy = self.depth > 0
            self.edges[name] = self.edges.get(name, True) and lazy


def find_cycle(graph: ImportGraph, *, deferred: bool) -> list[str] | None:
    """One shortest import cycle (``[a, b, ..., a]``), or None when the graph is acyclic."""
    best: list[str] | None = None
    for component in _strongly_connected(graph, deferred=deferred):
        if len(component) < 2 and component[0] not in graph.targets(
            component[0], deferred=deferred
        ):
            continue
        members = set(component)
        for start in sorted(component):
            path = _shortest_path_back(graph, start, members, deferred=deferred)
            if path and (best is None or len(path) < len(best)):
                best = path
    return best


def _shortest_path_back(
    graph: ImportGraph, start: str, members: set[str], *, deferred: bool
) -> list[str] | None:
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in graph.targets(node, deferred=deferred):
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def _strongly_connected(graph: ImportGraph, *, deferred: bool) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(graph.targets(root, deferred=deferred)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.targets(child, deferred=deferred))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out


def describe(graph: ImportGraph, cycle: list[str]) -> str:
    """``a -> b -> a``, each step marked where its import is inside a function."""
    steps = [cycle[0]]
    for a, b in itertools.pairwise(cycle):
        steps.append(f"{b} (in a function of {a})" if graph.edges[a][b] else b)
    return " -> ".join(steps)


def reachable(graph: ImportGraph, start: str) -> set[str]:
    """Every module that importing ``start`` (and calling its functions) can import."""
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in graph.targets(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build_graph(SRC, PACKAGE)


def test_the_graph_covers_the_package(graph: ImportGraph) -> None:
    assert {"lupusim", "lupusim.report", "lupusim.trial._run", "lupusim.cli"} <= set(graph.modules)
    assert "lupusim.report" in graph.targets("lupusim.trial._run", deferred=False)
    # a package's own submodules reached through ``from package import submodule``
    assert "lupusim.clinical._common" in graph.targets("lupusim.clinical.score")
    assert "lupusim.clinical" not in graph.targets("lupusim.clinical.score")


def test_module_level_imports_have_no_cycle(graph: ImportGraph) -> None:
    cycle = find_cycle(graph, deferred=False)
    assert cycle is None, "import cycle at module level: " + describe(graph, cycle or [])


def test_no_function_level_import_closes_a_cycle(graph: ImportGraph) -> None:
    cycle = find_cycle(graph, deferred=True)
    assert cycle is None, "import cycle: " + describe(graph, cycle or [])


def test_clinical_never_reaches_the_model(graph: ImportGraph) -> None:
    for module in sorted(m for m in graph.modules if m.startswith("lupusim.clinical")):
        bad = sorted(m for m in reachable(graph, module) if m.startswith("lupusim.model"))
        assert not bad, f"{module} reaches {bad}"


def test_report_reads_results_only(graph: ImportGraph) -> None:
    forbidden = ("model", "engine", "trial", "studies", "clinical", "population", "calibrate")
    for module in sorted(m for m in graph.modules if m.startswith("lupusim.report")):
        bad = sorted(
            m
            for m in reachable(graph, module)
            if any(m == f"lupusim.{p}" or m.startswith(f"lupusim.{p}.") for p in forbidden)
        )
        assert not bad, f"{module} reaches {bad}"


# ------------------------------------------------------------------ the checker itself


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checker_finds_a_cycle_through_a_package_init(tmp_path: Path) -> None:
    src = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "from pkg.a._run import run\n",
            "a/_run.py": "from pkg.b import draw\n",
            "a/_stats.py": "",
            "b/__init__.py": "from pkg.b._draw import draw\n",
            "b/_draw.py": "from pkg.a._stats import x\n",
        },
    )
    graph = build_graph(src, "pkg")
    cycle = find_cycle(graph, deferred=False)
    assert cycle is not None
    assert cycle[0] == cycle[-1] and {"pkg.a", "pkg.b"} <= set(cycle)


def test_checker_counts_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    src = _package(
        tmp_path,
        {
            "__init__.py": "",
            "one.py": "from pkg import two\n",
            "two.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.three import T\n"
                "def f():\n    from pkg.one import g\n"
            ),
            "three.py": "from pkg.two import f\n",
        },
    )
    graph = build_graph(src, "pkg")
    assert find_cycle(graph, deferred=False) is None
    cycle = find_cycle(graph, deferred=True)
    assert cycle is not None
    assert "in a function of pkg.two" in describe(graph, cycle)
    assert "pkg.three" not in graph.targets("pkg.two")


def test_checker_accepts_a_package_importing_its_submodules(tmp_path: Path) -> None:
    src = _package(
        tmp_path,
        {
            "__init__.py": "from pkg.core import run\n",
            "core.py": "from pkg import util\nfrom . import helpers\n",
            "util.py": "",
            "helpers.py": "from .util import *\n",
        },
    )
    graph = build_graph(src, "pkg")
    assert find_cycle(graph, deferred=True) is None
    assert graph.targets("pkg.core") == ["pkg.helpers", "pkg.util"]
