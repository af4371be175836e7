"""The import graph of the product packages, read from the source with `ast`: no cycles, and
imports only point down the layers (crypto/ and audit/ below archive/, archive/ below service/,
archive/ free of the web framework). Imports inside functions count too: a lazy import is still
a dependency, and hiding a cycle behind one is what this test exists to stop.

Cycles are looked for twice: between modules, and between packages (each package one level
below the top, e.g. `archive.policy` or `service.cli`, taken as one unit): `archive/auditing.py`
importing `archive/policy/engine.py` while `archive/policy/publish.py` imports
`archive/auditing.py` is no cycle of modules, but it ties the two together all the same.

Run it directly (`python tests/test_import_graph.py`) for the full report."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("archive", "service", "audit", "crypto")
# Alembic's migration scripts and environment are loaded by path, never imported by the product.
SKIPPED = ("archive/migrations/versions/", "archive/migrations/env.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not path.relative_to(ROOT).as_posix().startswith(SKIPPED):
                yield module_name(path), path


def imported_names(module: str, path: Path) -> Iterator[tuple[str, str, int]]:
    """Each module an import statement in the file may name, as (name, what it means when no
    module has that name, line): `import a.b` names a.b; `from a import b` names a.b if that is
    a module, else a (b is then a name defined in a)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}", base, node.lineno


def is_compiled_module(name: str) -> bool:
    """A module with no .py source (a C extension, known by its stub or built file)."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".pyi").exists() or any(path.parent.glob(path.name + ".*.so"))


def graph() -> tuple[dict[str, dict[str, int]], dict[str, Path], dict[str, set[str]]]:
    """(module -> {product module it imports: line}, module -> file, module -> outside top-level
    packages it imports)."""
    files = dict(sources())
    edges: dict[str, dict[str, int]] = {m: {} for m in files}
    outside: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for name, otherwise, line in imported_names(module, path):
            if name.split(".")[0] not in PACKAGES:
                outside[module].add(name.split(".")[0])
                continue
            if is_compiled_module(name):
                continue
            target = name if name in files else otherwise
            if target in files and target != module:
                edges[module].setdefault(target, line)
    return edges, files, outside


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in sorted(edges):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def unit(module: str) -> str:
    """The package a module belongs to one level below the top (`archive.policy.engine` ->
    `archive.policy`); a module directly in a top-level package is its own unit."""
    return ".".join(module.split(".")[:2])


def unit_edges(edges: dict[str, dict[str, int]]) -> dict[str, dict[str, tuple[str, str, int]]]:
    """The graph between units: unit -> {unit it imports: (one importing module, the module
    it imports, line)}."""
    found: dict[str, dict[str, tuple[str, str, int]]] = {unit(m): {} for m in edges}
    for module, targets in sorted(edges.items()):
        for target, line in sorted(targets.items()):
            if unit(target) != unit(module):
                found[unit(module)].setdefault(unit(target), (module, target, line))
    return found


def describe_cycle(component: list[str], edges: dict[str, dict[str, int]], files: dict[str, Path]) -> str:
    members = set(component)
    lines = [f"  cycle among {', '.join(component)}:"]
    for module in component:
        for target, line in sorted(edges[module].items()):
            if target in members:
                lines.append(f"    {files[module].relative_to(ROOT)}:{line} imports {target}")
    return "\n".join(lines)


def upward(edges: dict[str, dict[str, int]], files: dict[str, Path],
           outside: dict[str, set[str]]) -> list[str]:
    """Imports against the layers: crypto/ and audit/ import nothing of archive/ or service/;
    archive/ nothing of service/ and never fastapi."""
    forbidden = {"crypto": ("archive", "service"), "audit": ("archive", "service"), "archive": ("service",)}
    found = []
    for module, targets in sorted(edges.items()):
        top = module.split(".")[0]
        for target, line in sorted(targets.items()):
            if target.split(".")[0] in forbidden.get(top, ()):
                found.append(f"  {files[module].relative_to(ROOT)}:{line} imports {target}")
        if top == "archive" and "fastapi" in outside[module]:
            found.append(f"  {files[module].relative_to(ROOT)} imports fastapi")
    return found


def test_no_import_cycles_among_product_modules():
    edges, files, _ = graph()
    found = cycles(edges)
    assert not found, "import cycles between modules (the imports that tie each together):\n" + "\n".join(
        describe_cycle(c, edges, files) for c in found)


def test_no_import_cycles_among_packages():
    edges, files, _ = graph()
    between = unit_edges(edges)
    found = cycles({u: dict.fromkeys(targets, 0) for u, targets in between.items()})
    lines = []
    for component in found:
        lines.append(f"  cycle among {', '.join(component)}:")
        for u in component:
            for target_unit, (module, target, line) in sorted(between[u].items()):
                if target_unit in component:
                    lines.append(f"    {files[module].relative_to(ROOT)}:{line} imports {target}")
    assert not found, "import cycles between packages (the imports that tie each together):\n" + "\n".join(lines)


def test_imports_point_down_the_layers():
    edges, files, outside = graph()
    found = upward(edges, files, outside)
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_the_graph_sees_lazy_relative_and_from_imports(tmp_path):
    """The reader itself: an import inside a function, a relative import and a `from package
    import module` are edges."""
    source = tmp_path / "pkg" / "mod.py"
    source.parent.mkdir()
    source.write_text("from . import sibling\nfrom .other import thing\n\ndef f():\n    import archive.policy\n")
    found = {(name, otherwise) for name, otherwise, _ in imported_names("pkg.mod", source)}
    assert {("pkg.sibling", "pkg"), ("pkg.other.thing", "pkg.other"), ("archive.policy", "archive.policy")} <= found
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]


if __name__ == "__main__":
    edges, files, outside = graph()
    print("\n".join(describe_cycle(c, edges, files) for c in cycles(edges)) or "no cycles between modules")
    for check in (test_no_import_cycles_among_packages,):
        try:
            check()
        except AssertionError as error:
            print(error)
        else:
            print("no cycles between packages")
    print("\n".join(upward(edges, files, outside)) or "no imports against the layers")
