"""The layers hold (issue 17): read from the source, every import statement counted, also those
inside functions and under ``TYPE_CHECKING``.

- ``trio_ocpp._core`` imports neither trio nor trio-websocket nor any module of the package
  outside ``_core``: it is sans-I/O, and everything else stands on it.
- Each layer package imports only the layers below it (``RANKS``).
- No two modules import each other, directly or around a longer loop, in the package and in
  ``benchmarks``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "trio_ocpp"
#: The layer packages, bottom first: each may import those of lower ranks only (the client and
#: the server, side by side, never each other).
RANKS = {"_core": 0, "_transport": 1, "_runtime": 2, "_client": 3, "_server": 3, "testing": 4}
LAYERS = list(RANKS)
#: Libraries the sans-I/O core may not import: they do I/O or run an event loop.
IO_LIBRARIES = {"trio", "trio_websocket", "anyio", "asyncio", "socket", "ssl", "glide"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {module_name(p, PACKAGE.parent): p for p in PACKAGE.rglob("*.py")}
    found |= {module_name(p, ROOT): p for p in (ROOT / "benchmarks").rglob("*.py")}
    return found


def imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports (absolute names; ``from x import y`` gives x.y and x)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {target for target in imports(name, path) if target in known and target != name}
        for name, path in known.items()
    }


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "trio_ocpp" and parts[1] in LAYERS else None


def test_the_core_imports_no_io_and_nothing_above_it() -> None:
    known = modules()
    wrong = []
    for name, path in known.items():
        if layer_of(name) != "_core":
            continue
        for target in imports(name, path):
            top = target.split(".")[0]
            above = top == "trio_ocpp" and layer_of(target) != "_core" and target != "trio_ocpp"
            if top in IO_LIBRARIES or above:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for name, targets in graph().items():
        layer = layer_of(name)
        if layer is None:
            continue
        for target in targets:
            other = layer_of(target)
            if other is not None and other != layer and RANKS[other] >= RANKS[layer]:
                wrong.append(f"{name} ({layer}) imports {target} ({other})")
            elif other is None and target.startswith("trio_ocpp.") and layer == "_core":
                wrong.append(f"{name} imports {target}, outside the core")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_two_modules_import_each_other() -> None:
    edges = graph()
    # A package's __init__ importing its own modules is how a package shows its names: only
    # loops between modules count.
    edges = {
        name: {t for t in targets if not name.startswith(t + ".") and not t.startswith(name + ".")}
        for name, targets in edges.items()
    }
    loops = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                loops.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not loops, "\n".join(loops)


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_says_what_it_holds(layer: str) -> None:
    text = (PACKAGE / layer / "__init__.py").read_text()
    assert ast.get_docstring(ast.parse(text)), layer
