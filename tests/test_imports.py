"""How basepin's modules import each other: one way only, lazy imports counted too.

A lazy import still closes a circle: the day it runs first from the other side, the module
it asks for is half made. The judge (`basepin.rules`) sits above the network side
(`basepin.registry`), which meets it only at values below both (`basepin.scans`).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

SRC = Path(__file__).parent.parent / "src"


def _module_names() -> dict[str, Path]:
    names = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The basepin modules `name` imports anywhere but under `if TYPE_CHECKING:` (types only)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(module: str) -> None:
        while module and module not in known:
            module = module.rpartition(".")[0]
        if module and module != name:
            found.add(module)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.orelse:
                visit(statement)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            source = ".".join(part for part in (base, node.module or "") if part)
            submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in known]
            # A module's own package is loaded before it: naming a sibling asks only for it.
            if not submodules or not package.startswith(source):
                add(source)
            for submodule in submodules:
                add(submodule)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _graph() -> dict[str, set[str]]:
    known = _module_names()
    return {name: _imports(name, path, known) for name, path in known.items()}


def test_no_module_imports_itself_through_others() -> None:
    # CycleError names the circle.
    graphlib.TopologicalSorter(_graph()).prepare()


def test_the_network_side_never_imports_the_judge() -> None:
    graph = _graph()
    below = [name for name in graph if name.startswith(("basepin.registry", "basepin.scans"))]
    assert below
    for name in below:
        assert not {m for m in graph[name] if m.startswith("basepin.rules")}, name


def test_lazy_imports_are_seen() -> None:
    graph = _graph()
    assert "basepin.registry.vulnscan" in graph["basepin.rules.vulnerable"]  # inside `scan`
    assert "basepin.scans" in graph["basepin.registry.vulnscan"]
    assert "basepin.rules.candidates" in graph["basepin.rules.online"]


# The stages as layers, lowest first (README, "Layout"): a module may import its own layer,
# the layers under it and the shared values below them all, never a layer above. Extraction
# is the lowest: it needs nothing but the values, so every kind of file reads without I/O.
LAYERS = (
    ("basepin.extract",),
    ("basepin.discover", "basepin.config"),
    ("basepin.read",),
    ("basepin.resolve", "basepin.registry"),
    ("basepin.rules",),
    ("basepin.report",),
    ("basepin.fix", "basepin.file_lock"),
    ("basepin.cli", "basepin.action", "basepin.github_review", "basepin.github_api"),
    ("basepin.__main__",),
)


def _stage_of(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def test_no_layer_imports_one_above_it() -> None:
    wrong = []
    for name, imported in _graph().items():
        here = _stage_of(name)
        for module in imported:
            there = _stage_of(module)
            if there is not None and (here is None or there > here):
                wrong.append(f"{name} -> {module}")
    assert not wrong
