"""The folders are the architecture: every import of the product runs down the allowed graph.

Each module of `contracts/`, `services/` and `projections/` is read with `ast` (nothing is
imported or run) and each of its imports, module level or inside a function, relative or
absolute, and each `importlib.import_module("...")` or `__import__("...")` naming a module
of ours, is held against `MAY_IMPORT`: the one place the allowed directions are written
(the README's "Where things are" draws the same graph). Within a room anything goes.

A room that another may only partly read says which of its modules are its public face
(`READ_ONLY_THROUGH`): the projections read the event store through its package face and
the ledger through its read models, never their internals.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from graphlib import CycleError
from graphlib import TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("contracts", "services", "projections")

ROOMS: dict[str, str] = {
    "contracts": "contracts",
    "services.eventstore": "eventstore",
    "services.infra": "infra",
    "services.ledger": "ledger",
    "services.edge": "edge",
    "services.platform": "platform",
    "services.frontdoor": "frontdoor",
    "services.ops": "ops",
    "projections": "projections",
    "services.bridge": "bridge",
    "services.simulate": "simulate",
    "services.bench": "bench",
    "services.checker": "checker",
    "services.chaos": "chaos",
    "services.cli": "cli",
    "services": "services",
    "tests": "tests",
}
"""Module prefix -> room; the longest prefix wins (`services` alone is the namespace's face)."""


def _rooms(*names: str) -> frozenset[str]:
    return frozenset(names)


_SERVED = _rooms(
    "contracts",
    "eventstore",
    "infra",
    "ledger",
    "edge",
    "platform",
    "frontdoor",
    "ops",
    "projections",
)
"""Every room the composition root of `livebridge run` puts together."""

MAY_IMPORT: dict[str, frozenset[str]] = {
    # the ground: the wire, a persistence module that knows no casino, a server launcher
    "contracts": _rooms(),
    "eventstore": _rooms(),
    "infra": _rooms(),
    "services": _rooms(),
    # the judge of a run: its own model of wallets and rounds, reading the log raw; it
    # shares no code with the ledger (nor the edge or the event store) on purpose
    "checker": _rooms(),
    # the money core; it writes to the event store through the library's
    # PERSISTENCE_MODULE setting, a string, never an import
    "ledger": _rooms("contracts"),
    # the edge calls the ledger through its own port (services/edge/ports.py, a Protocol
    # the ledger satisfies), so it imports none of the ledger
    "edge": _rooms("contracts"),
    "platform": _rooms("contracts", "ledger"),
    # the operators' API: keys and scopes, cashier (reading the balances view), game launch
    "frontdoor": _rooms("contracts", "ledger", "edge", "platform", "projections"),
    # operations: KPIs read from the views through a Protocol, served behind the front door
    # and the SLA watch: the edge's live health, alerts signed by the platform's webhooks
    "ops": _rooms("contracts", "frontdoor", "edge", "platform"),
    "projections": _rooms("contracts", "eventstore", "ledger"),
    # the composition root of `livebridge run`
    "bridge": _SERVED,
    # on top: nothing below imports them
    "simulate": _rooms("contracts", "ledger", "edge", "checker"),
    "bench": _SERVED | {"bridge", "simulate"},
    # `make chaos`: the processes it controls, the load it plays, the checker that judges
    "chaos": _rooms("checker", "simulate", "bridge", "infra", "contracts"),
    "cli": _SERVED | {"bridge", "simulate", "bench", "checker", "chaos"},
    # the tests may read anything; the product never imports a test helper
    "tests": _SERVED | {"bridge", "simulate", "bench", "cli", "checker", "chaos"},
}
"""Room -> the rooms it may import. This is the architecture; change it on purpose only."""

READ_ONLY_THROUGH: dict[tuple[str, str], frozenset[str]] = {
    ("projections", "eventstore"): frozenset({"services.eventstore"}),
    ("projections", "ledger"): frozenset(
        {
            "services.ledger.application",
            "services.ledger.domain",
            "services.ledger.round_state",
            "services.ledger.rounds",
            "services.ledger.views",
        }
    ),
}
"""(importer, imported) -> the only modules of the imported room that importer may name."""


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def room_of(module: str) -> str | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        room = ROOMS.get(".".join(parts[:end]))
        if room is not None:
            return room
    return None


@cache
def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(importer: str, source: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every module of ours that `source` (the text of module `importer`) imports."""
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(importer, is_package, node)
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                names.append(submodule if is_module(submodule) else module)
        elif isinstance(node, ast.Call) and _names_a_module(node):
            first = node.args[0]
            assert isinstance(first, ast.Constant)
            names = [str(first.value)]
        for name in dict.fromkeys(names):
            if name.split(".")[0] in (*PRODUCT, "tests"):
                yield Import(importer, name, getattr(node, "lineno", 0))


def _names_a_module(call: ast.Call) -> bool:
    func = call.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return (
        called in {"import_module", "__import__"}
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def violations(importer: str, source: str, *, is_package: bool = False) -> list[str]:
    """The imports of `source` that run against the allowed directions, one line each."""
    found: list[str] = []
    here = room_of(importer)
    assert here is not None, f"{importer} is in no room: add its folder to ROOMS"
    for edge in imports_of(importer, source, is_package=is_package):
        there = room_of(edge.imported)
        if there is None:
            found.append(f"{edge}: a module in no room (add its folder to ROOMS)")
        elif there == here:
            continue
        elif there not in MAY_IMPORT[here]:
            found.append(f"{edge}: {here} may not import {there}")
        elif not _through_the_face(edge.imported, READ_ONLY_THROUGH.get((here, there))):
            face = ", ".join(sorted(READ_ONLY_THROUGH[here, there]))
            found.append(f"{edge}: {here} reads {there} only through {face}")
    return found


def _through_the_face(imported: str, face: frozenset[str] | None) -> bool:
    return face is None or imported in face


def product_modules() -> Iterator[tuple[str, Path]]:
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def test_the_allowed_graph_has_no_cycle_so_no_two_rooms_can_import_each_other() -> None:
    try:
        order = list(TopologicalSorter(MAY_IMPORT).static_order())
    except CycleError as error:  # pragma: no cover - fails the test with the cycle
        pytest.fail(f"MAY_IMPORT runs in a circle: {error.args[1]}")
    assert set(order) == set(MAY_IMPORT) == set(ROOMS.values())


def test_every_import_of_the_product_runs_along_the_allowed_directions() -> None:
    modules = list(product_modules())
    assert len(modules) > 100, "the product's modules were not found"
    found = [
        line
        for module, path in modules
        for line in violations(module, path.read_text(), is_package=path.name == "__init__.py")
    ]
    assert found == []


@pytest.mark.parametrize(
    ("importer", "source", "reported"),
    [
        ("contracts.money", "from services.ledger.application import Ledger", "contracts may not"),
        ("services.eventstore.recorders", "import contracts.wallet", "eventstore may not"),
        ("services.ledger.domain", "from services.eventstore import factory", "ledger may not"),
        ("services.ledger.book", "from services.edge import ports", "ledger may not"),
        ("services.edge.gateway", "from services.ledger.application import Ledger", "edge may"),
        ("services.edge.app", "from services.simulate.clients import hub88", "edge may not"),
        ("services.platform.settle", "from projections.run import VIEWS", "platform may not"),
        ("projections.commands", "from services.bridge.config import Settings", "projections"),
        ("projections.rounds.replay", "from services.bench import views", "projections may"),
        ("projections.rounds.replay", "from services.eventstore import recorders", "only through"),
        ("projections.rebuild", "from services.ledger.book import follow", "only through"),
        ("services.infra.natsserver", "from ..bridge import config", "infra may not"),
        ("services.simulate.table", "from services.bench import runner", "simulate may not"),
        ("services.checker.model", "from services.ledger import domain", "checker may not"),
        ("services.checker.log", "from services.eventstore import stream_name", "checker"),
        ("services.bridge.main", "from services.bench import runner", "bridge may not"),
        (
            "services.ledger.application",
            "def f():\n    from tests import conftest",
            "may not import tests",
        ),
        (
            "services.edge.app",
            "import importlib\nimportlib.import_module('services.bench.edge')",
            "edge",
        ),
    ],
)
def test_a_planted_import_against_the_directions_is_reported(
    importer: str, source: str, reported: str
) -> None:
    found = violations(importer, source)
    assert len(found) == 1, found
    assert importer in found[0]
    assert reported in found[0]


def test_imports_along_the_directions_are_not_reported() -> None:
    source = "\n".join(
        [
            "from contracts.wallet import Debit",
            "from services.eventstore import JetStreamFactory",
            "from services.ledger.views import RoundState",
            "from . import rebuild",
            "from .rounds import view",
        ]
    )
    assert violations("projections.run", source) == []
    assert (
        violations("services.bridge.main", "from services.infra.natsserver import NatsServer") == []
    )
    assert violations("services.cli", "from services.bench import runner") == []
