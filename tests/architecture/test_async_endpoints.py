"""Every FastAPI dependency and route of the services is a coroutine function.

FastAPI runs a plain `def` dependency or route in a worker thread, once per
request: a thread hop (queue, lock, wake-up) that cost the gateway about a
twelfth of its CPU per archive upload when its `request.state` accessors were
plain functions. The check reads the services' syntax trees: every name passed
to `Depends(...)`/`Security(...)` that is a function defined in the services
must be `async def`, and so must every function decorated as a route.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTE_DECORATORS = frozenset({"get", "post", "put", "patch", "delete", "api_route", "websocket"})


def _service_trees() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(ROOT.glob("services/*/src/**/*.py"))
    ]


def _functions(trees: list[tuple[Path, ast.Module]]) -> dict[str, list[tuple[Path, ast.AST]]]:
    found: dict[str, list[tuple[Path, ast.AST]]] = {}
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.setdefault(node.name, []).append((path, node))
    return found


def _dependency_names(trees: list[tuple[Path, ast.Module]]) -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path, tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"Depends", "Security"}
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                names.setdefault(node.args[0].id, path)
    return names


def test_every_dependency_defined_in_the_services_is_async() -> None:
    trees = _service_trees()
    functions = _functions(trees)
    dependencies = _dependency_names(trees)
    assert "get_pool" in dependencies, "the walk found none of the known dependencies"
    sync = [
        f"{name} ({path.relative_to(ROOT)}:{node.lineno}, used in {used_in.relative_to(ROOT)})"
        for name, used_in in dependencies.items()
        for path, node in functions.get(name, [])
        # a same-named function in the module that uses it is the one Depends names
        if path == used_in or len(functions[name]) == 1 or path.name == "deps.py"
        if isinstance(node, ast.FunctionDef)
    ]
    assert not sync, "plain-def dependencies run in a worker thread per request: " + ", ".join(sync)


def test_every_route_is_async() -> None:
    sync = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
        for path, tree in _service_trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in ROUTE_DECORATORS
    ]
    assert not sync, "plain-def routes run in a worker thread per request: " + ", ".join(sync)
