"""The package's import structure: no circles, no private names across packages.

The layers, from the bottom (a module imports only from its own layer's package or
below): ``errors`` and ``engine``; ``training`` (what every training loop shares);
``datasets``, ``train`` and ``fast``; ``explain``, ``experiments`` and ``interop``;
``report``; ``cli``. These tests read the source with ``ast`` (nothing is imported),
so they see every import: at module level and inside functions alike. An import
inside a function still makes the two modules depend on each other, so it counts:
"lazy" imports are for keeping ``import retroprop`` light, never for hiding a circle.
The one kind left out is an import under ``if TYPE_CHECKING:``: it never runs, so it
makes no dependency at run time; it only names, for the type checker, the type of
what a module receives (a renderer's ``Trace``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "retroprop"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def package_of(module: str) -> str:
    """``retroprop.fast.blas`` -> ``retroprop.fast``; top-level modules are their
    own package (``retroprop.train``)."""
    return ".".join(module.split(".")[:2])


def imports_of(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, name taken from it or None, line)`` for every import in
    ``module``, relative imports resolved, names that are submodules turned into
    edges to the submodule."""
    path = MODULES[module]
    return imports_in(path.read_text(), module, is_package=path.name == "__init__.py")


def imports_in(
    source: str, module: str, is_package: bool = False
) -> list[tuple[str, str | None, int]]:
    """``imports_of`` for the source text of ``module``."""
    tree = ast.parse(source)
    here = module if is_package else module.rpartition(".")[0]
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, None, node.lineno))
                else:
                    found.append((base, alias.name, node.lineno))
    return [(m, name, line) for m, name, line in found if m in MODULES]


def graph() -> dict[str, set[str]]:
    """module -> the retroprop modules it imports (the root package left out: it
    only re-exports, and everything would be in a circle with it)."""
    return {
        m: {dep for dep, _, _ in imports_of(m) if dep != "retroprop"}
        for m in MODULES
        if m != "retroprop"
    }


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


PACKAGES = sorted({package_of(m) for m in MODULES if m != "retroprop"})

KNOWN_CIRCLES: dict[str, str] = {
    # Fixed on other branches; remove the line when they are merged (the test then
    # passes, and strict xfail turns an unexpected pass into a failure to say so).
}


@pytest.mark.parametrize(
    "package",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN_CIRCLES[p]))
        if p in KNOWN_CIRCLES
        else p
        for p in PACKAGES
    ],
)
def test_no_import_circle_goes_through(package):
    touching = [c for c in circles(graph()) if any(package_of(m) == package for m in c)]
    assert touching == [], f"import circles through {package}: {touching}"


def test_the_circle_finder_finds_circles():
    # The checker itself, on a made-up graph: a -> b -> c -> a and d -> a.
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(edges) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_count_and_type_checking_ones_do_not():
    # train.py imports retroprop.fast.single inside train(): an edge all the same.
    assert "retroprop.fast.single" in graph()["retroprop.train"]
    code = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from retroprop.train import History\n"
        "def f():\n"
        "    from retroprop.errors import DataError\n"
    )
    assert imports_in(code, "retroprop.probe") == [("retroprop.errors", "DataError", 5)]


def test_no_private_name_crosses_a_package():
    crossing = []
    for m in MODULES:
        for dep, name, line in imports_of(m):
            private = [
                part
                for part in [*dep.split("."), name or ""]
                if part.startswith("_")
                and not part.startswith("__")
                and part
                != "_"  # gettext's _() (retroprop.i18n) is public by convention
            ]
            if private and package_of(dep) != package_of(m):
                crossing.append(f"{MODULES[m].relative_to(SRC)}:{line} {dep} {name}")
    assert crossing == []


LEAVES = {
    "retroprop.errors",
    "retroprop.atomic",
    "retroprop.display",
    "retroprop.plots",
    "retroprop.i18n",
    "retroprop.frontend",
}
"""Views and utilities that import nothing of retroprop but each other: any layer may
call them (``History.plot()`` draws with ``retroprop.plots``, as pandas' ``.plot()``)."""


def test_the_leaves_import_only_leaves():
    up = sorted(
        f"{MODULES[m].relative_to(SRC)} imports {dep}"
        for m in MODULES
        if package_of(m) in LEAVES
        for dep in graph()[m]
        if package_of(dep) not in LEAVES
    )
    assert up == []


LOWER = {
    # package -> the retroprop packages it may import (besides itself and LEAVES)
    "retroprop.errors": set(),
    "retroprop.engine": {"retroprop.errors"},
    "retroprop.training": {"retroprop.errors", "retroprop.engine"},
    "retroprop.fast": {"retroprop.errors", "retroprop.engine", "retroprop.training"},
    "retroprop.train": {
        "retroprop.errors",
        "retroprop.engine",
        "retroprop.training",
        "retroprop.fast",
    },
}


@pytest.mark.parametrize("package", sorted(LOWER))
def test_the_training_layers_import_only_what_is_below(package):
    above = sorted(
        f"{MODULES[m].relative_to(SRC)} imports {dep}"
        for m in MODULES
        if package_of(m) == package
        for dep in graph()[m]
        if package_of(dep) not in LOWER[package] | LEAVES | {package}
    )
    assert above == []
