"""`make soak` runs every long variant: a test whose size depends on `LIVEBRIDGE_SOAK` is
marked `soak`, since `make soak` selects by the mark (`-m soak`) with `LIVEBRIDGE_SOAK=1`.

A test depends on the switch when it names a module-level value or a function that reads
`LIVEBRIDGE_SOAK`, directly or through other such values (`SIZE = table_size()`,
`PLAYERS = [... SIZE.players ...]`).

Every `soak` test also sets its own timeout: pytest's default (300 s) suits `make test`'s
sizes and would stop a long variant part way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SWITCH = "LIVEBRIDGE_SOAK"
SOAK_MARK = "pytest.mark.soak"


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _reads_switch(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and n.value == SWITCH for n in ast.walk(node))


def switch_functions(trees: list[ast.Module]) -> set[str]:
    """The names of the module-level functions that read the switch, in any test module."""
    return {
        node.name
        for tree in trees
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and _reads_switch(node)
    }


def unmarked(tree: ast.Module, switches: set[str]) -> list[str]:
    """The tests in `tree` that depend on the switch without the `soak` mark."""
    dependent = set(switches)
    grew = True
    while grew:
        grew = False
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                if not names <= dependent and (
                    _reads_switch(node.value) or _names(node.value) & dependent
                ):
                    dependent |= names
                    grew = True
    return [
        node.name
        for node, marks in _tests(tree)
        if SOAK_MARK not in marks and (_reads_switch(node) or _names(node) & dependent)
    ]


def untimed(tree: ast.Module) -> list[str]:
    """The `soak` tests in `tree` without a timeout of their own."""
    return [
        node.name
        for node, marks in _tests(tree)
        if SOAK_MARK in marks and not any(m.startswith("pytest.mark.timeout(") for m in marks)
    ]


def _tests(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, list[str]]]:
    """The test functions in `tree`, each with its decorators as written."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test_"
        ):
            yield node, [ast.unparse(d) for d in node.decorator_list]


def test_every_test_with_a_long_variant_is_marked_soak_and_sets_its_timeout() -> None:
    modules = {path: ast.parse(path.read_text()) for path in sorted(TESTS.rglob("*.py"))}
    switches = switch_functions(list(modules.values()))
    assert "table_size" in switches  # the check sees the helpers that read the switch
    tests = {
        path.relative_to(TESTS): tree
        for path, tree in modules.items()
        if path.name.startswith("test_")
    }
    missing = [
        f"{path}::{name}" for path, tree in tests.items() for name in unmarked(tree, switches)
    ]
    assert missing == [], "mark these `@pytest.mark.soak` so that make soak runs them"
    untimed_tests = [f"{path}::{name}" for path, tree in tests.items() for name in untimed(tree)]
    assert untimed_tests == [], "give these `@pytest.mark.timeout(...)` for their long size"


def test_the_checks_find_an_unmarked_test_and_an_untimed_one() -> None:
    planted = ast.parse(
        "import os\n"
        "import pytest\n"
        "SOAK = os.environ.get('LIVEBRIDGE_SOAK') == '1'\n"
        "ROUNDS = 5000 if SOAK else 50\n"
        "SIZE = table_size()\n"
        "def test_long() -> None:\n    assert ROUNDS\n"
        "def test_table() -> None:\n    assert SIZE.players\n"
        "@pytest.mark.soak\ndef test_marked() -> None:\n    assert ROUNDS\n"
        "@pytest.mark.soak\n@pytest.mark.timeout(3600 if SOAK else 300)\n"
        "def test_timed() -> None:\n    assert ROUNDS\n"
        "def test_other() -> None:\n    assert True\n"
    )
    assert unmarked(planted, {"table_size"}) == ["test_long", "test_table"]
    assert untimed(planted) == ["test_marked"]
