"""Evolution One Wallet over HTTP against the real ledger: sid rotation in KV, a debit after
its cancel (the table every dialect plays: test_dialect_tables.py)."""

from __future__ import annotations

from decimal import Decimal

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from tests.integration.edge.support.served_edge import one_player, provider

SECRET = "evo-auth-token-TEST-ONLY"


async def test_check_rotates_the_sid_and_a_debit_after_its_cancel_is_a_final_error(
    nats_url: str, stream_prefix: str
) -> None:
    config = provider("evolution", SECRET.encode())
    async with one_player(nats_url, stream_prefix, config, "late") as (edge, launch):
        client = EvolutionClient(HttpTransport(edge.http, edge.base("evolution")), SECRET)
        checked = await client.check(sid=launch, user="late")
        assert checked["status"] == "OK" and checked["sid"] != launch, checked
        stale = await client.balance(sid=launch, user="late", currency="EUR")
        assert stale["status"] == "INVALID_SID", stale
        args = {
            "sid": checked["sid"],
            "user": "late",
            "currency": "EUR",
            "game_id": "g-1",
            "tx_id": "tx-1",
            "ref_id": "bet-1",
            "amount": Decimal("2.5"),
        }
        cancelled = await client.cancel(**args)
        assert cancelled["status"] == "BET_DOES_NOT_EXIST", cancelled
        late = await client.debit(**args)
        assert late["status"] == "FINAL_ERROR_ACTION_FAILED", late
        assert await edge.balance("late") == 1000
        wrong = await client.send(client.prepare("balance", {"sid": args["sid"]}, auth="nope"))
        assert wrong["status"] == "INVALID_TOKEN_ID"
