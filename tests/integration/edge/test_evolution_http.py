"""Evolution One Wallet over HTTP against the real ledger: sid rotation in KV and the auth
token (the table and the rollback before its bet, every dialect's: test_dialect_tables.py)."""

from __future__ import annotations

from decimal import Decimal

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from tests.integration.edge.support.served_edge import OPENING
from tests.integration.edge.support.served_edge import one_player
from tests.integration.edge.support.served_edge import provider

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


async def test_a_credit_or_cancel_naming_an_unknown_user_is_invalid_parameter_and_moves_nothing(
    nats_url: str, stream_prefix: str
) -> None:
    """The tool's CHECK_USING_INVALID_USER_ID: a bet of a real player, then its cancel and
    its credit sent for a user the casino does not know; the bet stays the player's."""
    config = provider("evolution", SECRET.encode())
    async with one_player(nats_url, stream_prefix, config, "real") as (edge, launch):
        client = EvolutionClient(HttpTransport(edge.http, edge.base("evolution")), SECRET)
        bet = {"currency": "EUR", "game_id": "g-1", "ref_id": "bet-1", "amount": Decimal(2)}
        placed = await client.debit(sid=launch, user="real", tx_id="d-1", **bet)
        assert placed["status"] == "OK", placed
        for call, tx_id in ((client.cancel, "d-1"), (client.cancel, "x-1"), (client.credit, "c-1")):
            answer = await call(sid=launch, user="fakeUserId", tx_id=tx_id, **bet)
            assert (answer["status"], answer["balance"]) == ("INVALID_PARAMETER", None), answer
        assert await edge.balance("real") == OPENING
        assert await edge.available("real") == OPENING - 2
        paid = await client.credit(sid=launch, user="real", tx_id="c-1", **bet)
        assert (paid["status"], paid["balance"]) == ("OK", OPENING), paid


async def test_a_cancel_under_a_new_transaction_id_cancels_the_bet_its_ref_id_names(
    nats_url: str, stream_prefix: str
) -> None:
    """The tool's DEBIT_CANCEL_BET_ALREADY_SETTLED_UNEXPECTED: a second cancel of a bet,
    under a new transaction id with the bet's `refId`, is `BET_ALREADY_SETTLED` (the tool
    takes `OK` too), never `BET_DOES_NOT_EXIST`; a first cancel made that way releases the
    stake."""
    config = provider("evolution", SECRET.encode())
    async with one_player(nats_url, stream_prefix, config, "real") as (edge, launch):
        client = EvolutionClient(HttpTransport(edge.http, edge.base("evolution")), SECRET)
        for ref_id, cancel_id in (("bet-1", "d-bet-1"), ("bet-2", "x-2")):
            bet = {"currency": "EUR", "game_id": "g-1", "ref_id": ref_id, "amount": Decimal(2)}
            placed = await client.debit(sid=launch, user="real", tx_id=f"d-{ref_id}", **bet)
            assert placed["status"] == "OK", placed
            cancelled = await client.cancel(sid=launch, user="real", tx_id=cancel_id, **bet)
            assert (cancelled["status"], cancelled["balance"]) == ("OK", OPENING), cancelled
            again = await client.cancel(sid=launch, user="real", tx_id=f"y-{ref_id}", **bet)
            assert (again["status"], again["balance"]) == ("BET_ALREADY_SETTLED", OPENING), again
        assert await edge.available("real") == OPENING
