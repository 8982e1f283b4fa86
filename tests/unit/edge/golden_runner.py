"""Replays a dialect's golden request/response fixtures against the fake-ledger gateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.simulate.clients.base import PreparedCall
from tests.unit.edge.walletkit import GatewayTransport, Rig

GOLDEN = Path(__file__).parent / "golden"

Encode = Callable[[dict[str, Any]], PreparedCall]


def scenarios(dialect: str) -> list[dict[str, Any]]:
    document = json.loads((GOLDEN / f"{dialect}.json").read_text())
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


async def play(
    rig: Rig, pid: str, scenario: dict[str, Any], encode: Encode, decode: Callable[[bytes], Any]
) -> None:
    transport = GatewayTransport(rig.gate(pid))
    for number, step in enumerate(scenario["steps"], 1):
        before = rig.ledger.snapshot()
        answer = await transport.send(encode(step))
        where = f"{scenario['name']!r} step {number} ({step['path']})"
        assert answer.status == step.get("http_status", 200), where
        assert decode(answer.body) == step["response"], where
        if step.get("changes", True) is False:
            assert rig.ledger.snapshot() == before, f"{where} changed the ledger"
