"""Replays a dialect's golden request/response fixtures against the fake-ledger gateway.

A fixture file holds scenarios; each funds players, installs sessions (token -> player,
or {player, ttl, currency}) and plays steps: `path`, `request`, the expected `response`
(`"<any>"` matches any value), `http_status` (default 200), `changes: false` when the
ledger must be untouched, and `save: {"name": "field"}` to reuse an answered value as
`"$name"` in later requests (Evolution's rotated sid).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig

GOLDEN = Path(__file__).parents[1] / "golden"
ANY = "<any>"

Encode = Callable[[dict[str, Any]], PreparedCall]

REQUIRED_SCENARIOS = frozenset(
    {
        "debit",
        "credit",
        "cancel_before_debit",
        "duplicate",
        "conflicting_duplicate",
        "insufficient_funds",
        "invalid_token",
        "unknown_user",
        "big_payout",
        "zero_win",
        "parallel_rounds_on_one_table",
        "several_bets_in_one_round",
    }
)
"""The scenarios a dialect's golden file must hold once it is recorded in full (Ezugi's
and SoftSwiss's are; see `test_golden_coverage.py`)."""


def scenarios(dialect: str) -> list[dict[str, Any]]:
    document = json.loads((GOLDEN / f"{dialect}.json").read_text(), parse_float=Decimal)
    found: list[dict[str, Any]] = document["scenarios"]
    return found


def set_up(rig: Rig, pid: str, scenario: dict[str, Any], currency: str = "EUR") -> None:
    for player, amount in scenario.get("funds", {}).items():
        rig.fund(player, amount, currency)
    for token, who in scenario.get("sessions", {}).items():
        if isinstance(who, str):
            rig.session(pid, token, who, currency)
        else:
            rig.session(pid, token, who["player"], who.get("currency", currency), who["ttl"])


def _substitute(value: Any, saved: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$") and value[1:] in saved:
        return saved[value[1:]]
    if isinstance(value, dict):
        return {k: _substitute(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, saved) for v in value]
    return value


def _matches(expected: Any, actual: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _matches(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


async def play(
    rig: Rig, pid: str, scenario: dict[str, Any], encode: Encode, decode: Callable[[bytes], Any]
) -> None:
    """Play a scenario against a fake-ledger rig."""
    await play_on(GatewayTransport(rig.gate(pid)), scenario, encode, decode, rig.ledger.snapshot)


async def play_on(
    transport: Transport,
    scenario: dict[str, Any],
    encode: Encode,
    decode: Callable[[bytes], Any],
    snapshot: Callable[[], object],
) -> None:
    """Send each step, compare the answer, and check `changes: false` against `snapshot`."""
    saved: dict[str, Any] = {}
    for number, raw in enumerate(scenario["steps"], 1):
        step = {**raw, "request": _substitute(raw["request"], saved)}
        before = snapshot()
        answer = await transport.send(encode(step))
        where = f"{scenario['name']!r} step {number} ({step['path']})"
        assert answer.status == step.get("http_status", 200), where
        body = decode(answer.body)
        assert _matches(step["response"], body), f"{where}: {body!r}"
        if step.get("changes", True) is False:
            assert snapshot() == before, f"{where} changed the ledger"
        for name, field in step.get("save", {}).items():
            saved[name] = body[field]
