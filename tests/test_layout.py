"""The package's layout is its pipeline: each module imports only its own stage and the stages
below it, and no chain of imports comes back to where it started.

The graph is read from the source, every import counted wherever it is written (at module level,
inside a function, under ``TYPE_CHECKING``): a function-local import that closes a cycle is the
same tangle, only deferred. Importing ``tokcheck.a.b`` runs ``tokcheck/a/__init__.py`` first, so
that edge is counted too (except from inside ``tokcheck.a``).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tokcheck"

# The stages from the bottom up: a module may import from its own stage and the ones below.
STAGES: list[tuple[str, ...]] = [
    ("tokcheck.errors", "tokcheck.provenance", "tokcheck.verdict", "tokcheck.system"),
    ("tokcheck.model",),
    ("tokcheck.convert",),
    ("tokcheck.inputs",),
    ("tokcheck.checks",),
    ("tokcheck.judge",),
    ("tokcheck.candidates",),
    ("tokcheck.parallel",),
    ("tokcheck.compare",),
    ("tokcheck.export", "tokcheck.smoke"),
    ("tokcheck.report",),
    ("tokcheck.gate", "tokcheck.options", "tokcheck.testing"),
    (
        "tokcheck.cli",
        "tokcheck.parser",
        "tokcheck.usage",
        "tokcheck.pytest_plugin",
        "tokcheck.__main__",
        "tokcheck",
    ),
]


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str) -> set[str]:
    """The tokcheck modules ``name`` imports, wherever in it the import is written."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    edges = set()
    for target in found:
        if target == "tokcheck" or not target.startswith("tokcheck."):
            edges.add(target) if target == "tokcheck" else None
            continue
        while target not in MODULES:  # an attribute path such as tokcheck.a.b.NAME
            target = target.rpartition(".")[0]
        edges.add(target)
        parent = target.rpartition(".")[0]
        while parent != "tokcheck":  # the packages above it run first
            edges.add(parent)
            parent = parent.rpartition(".")[0]
    # A module's own packages run before it, whatever it imports: not an edge of its making.
    return {e for e in edges if e != name and not name.startswith(e + ".")}


GRAPH = {name: _imports(name) for name in MODULES}


def _stage(name: str) -> int:
    for rank, stage in enumerate(STAGES):
        if any(name == s or name.startswith(s + ".") for s in stage if s != "tokcheck"):
            return rank
    assert name == "tokcheck", f"{name} belongs to no stage: add it to STAGES"
    return len(STAGES) - 1


def _owner(name: str) -> str:
    for stage in STAGES:
        for s in stage:
            if s != "tokcheck" and (name == s or name.startswith(s + ".")):
                return s
    return name


def test_every_module_belongs_to_a_stage() -> None:
    assert len(MODULES) > 40
    for name in MODULES:
        _stage(name)


def test_no_import_runs_against_the_layering() -> None:
    against = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if _stage(target) > _stage(name)
        or (
            _stage(target) == _stage(name)
            and _owner(target) != _owner(name)
            and len(STAGES[_stage(name)]) > 1
            and _stage(name) not in (0, len(STAGES) - 1)
        )
    ]
    assert against == [], "\n".join(sorted(against))


def test_no_import_cycle() -> None:
    try:
        tuple(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None


# A module past this many lines holds more than one concept: split it along its seams.
MAX_LINES = 450


def test_no_module_is_over_the_limit() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, long
