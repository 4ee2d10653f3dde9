"""The harness is one package whose modules import each other without a cycle (the
load driver and its checks once did, behind a TYPE_CHECKING import), and nothing in
it, the tests or bench/ reaches for modules by editing sys.path."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from testkit import ROOT

SOURCE = ROOT / "testkit" / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The harness modules this file imports, at any depth (TYPE_CHECKING included):
    `from a import b` counts as `a.b` when that is a module, else as `a`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return found & known


def test_the_harness_modules_import_each_other_without_a_cycle():
    files = {_module_name(p): p for p in SOURCE.rglob("*.py")}
    known = set(files)
    graph = {name: _imports(path, known) - {name} for name, path in files.items()}
    assert "testkit.checks" in graph["testkit.load"]  # the walk sees the imports
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_nothing_edits_sys_path():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("testkit", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if "sys.path" in path.read_text(encoding="utf-8") and path != Path(__file__)
    ]
    assert offenders == []
