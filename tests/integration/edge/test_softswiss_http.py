"""SoftSwiss over HTTP against the real ledger: hostile calls get SoftSwiss errors and move
nothing (the table every dialect plays: test_dialect_tables.py)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.simulated_bridge import served_bridge

SECRET = "softswiss-TEST-ONLY-token"


async def test_hostile_calls_over_http_get_softswiss_errors_and_move_nothing(
    nats_url: str, stream_prefix: str
) -> None:
    config = provider("softswiss", SECRET.encode())
    async with served_bridge(nats_url, stream_prefix, config) as bridge:
        await bridge.bank.deposit("victim", "EUR", Decimal("50"), "dep-victim")
        client = SoftSwissClient(HttpTransport(bridge.http, bridge.base("softswiss")), SECRET)
        good = client.play_call(
            user="victim", currency="EUR", round_id="r-1", actions=[bet("a-1", Decimal(5), "EUR")]
        )
        hostile = [
            (client.prepare_raw("play", good.body, signature="00" * 32), 403, 403),
            (client.prepare_raw("play", good.body, signature=""), 403, 403),
            (client.prepare_raw("play", b'{"user_id":' + b"9" * 70000 + b"}"), 413, 400),
            (client.prepare_raw("play", b'{"user_id": "victim", "actions": [}'), 400, 400),
        ]
        for amount in (-500, 2.5, "5", 10**16):
            action = {"action": "bet", "action_id": "a-2", "amount": amount}
            body = msgspec.json.encode(
                {"user_id": "victim", "currency": "EUR", "game_id": "r-1", "actions": [action]}
            )
            hostile.append((client.prepare_raw("play", body), 400, 400))
        for call, http_status, code in hostile:
            answer = await client.send(call)
            assert (answer["http_status"], answer["code"]) == (http_status, code), answer
        assert await bridge.bank.balance("victim", "EUR") == Decimal("50")
