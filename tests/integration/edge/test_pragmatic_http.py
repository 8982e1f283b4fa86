"""Pragmatic Play over HTTP against the real ledger, tokens in KV: a refund before its bet
(the table every dialect plays: test_dialect_tables.py)."""

from __future__ import annotations

from decimal import Decimal

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.pragmatic import PragmaticClient
from tests.integration.edge.support.served_edge import one_player, provider

SECRET = "pp-secret-key-TEST-ONLY"


async def test_a_refund_before_its_bet_answers_success_and_the_late_bet_is_refused(
    nats_url: str, stream_prefix: str
) -> None:
    config = provider("pragmatic", SECRET.encode())
    async with one_player(nats_url, stream_prefix, config, "late") as (edge, token):
        client = PragmaticClient(HttpTransport(edge.http, edge.base("pragmatic")), SECRET)
        refunded = await client.refund(user="late", reference="b-1", round_id="r-1")
        assert refunded["error"] == 0
        late = await client.bet(
            user="late", round_id="r-1", reference="b-1", amount=Decimal(2), token=token
        )
        assert late["error"] == 3, late
        forged = await client.send(
            client.prepare("bet.html", {"userId": "late", "amount": "1"}, hash_="0" * 32)
        )
        assert forged["error"] == 5
        assert await edge.balance("late") == 1000
