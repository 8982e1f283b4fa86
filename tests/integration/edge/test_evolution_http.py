"""Evolution One Wallet over HTTP against the real ledger: sid rotation in KV and the auth
token (the table and the rollback before its bet, every dialect's: test_dialect_tables.py)."""

from __future__ import annotations

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from tests.integration.edge.support.served_edge import one_player, provider

SECRET = "evo-auth-token-TEST-ONLY"


async def test_check_rotates_the_launch_sid_and_only_the_right_auth_token_is_answered(
    nats_url: str, stream_prefix: str
) -> None:
    config = provider("evolution", SECRET.encode())
    async with one_player(nats_url, stream_prefix, config, "rotated") as (edge, launch):
        client = EvolutionClient(HttpTransport(edge.http, edge.base("evolution")), SECRET)
        checked = await client.check(sid=launch, user="rotated")
        assert checked["status"] == "OK" and checked["sid"] != launch, checked
        stale = await client.balance(sid=launch, user="rotated", currency="EUR")
        assert stale["status"] == "INVALID_SID", stale
        fresh = await client.balance(sid=checked["sid"], user="rotated", currency="EUR")
        assert (fresh["status"], fresh["balance"]) == ("OK", 1000), fresh
        wrong = await client.send(client.prepare("balance", {"sid": checked["sid"]}, auth="no"))
        assert wrong["status"] == "INVALID_TOKEN_ID", wrong
