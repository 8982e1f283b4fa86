"""Pragmatic's calls name no currency: a result or refund settles the bet in the currency it
was taken in, though the player opened a session in another since (against the real ledger)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.pragmatic import PragmaticClient
from tests.integration.edge.support.served_edge import OPENING
from tests.integration.edge.support.served_edge import ServedEdge
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.served_edge import served_edge

SECRET = "pp-currencies-TEST-ONLY"


@asynccontextmanager
async def euro_and_dollar(
    nats_url: str, stream_prefix: str
) -> AsyncIterator[tuple[ServedEdge, PragmaticClient, str]]:
    """A Pragmatic provider in EUR and USD, player p-1 funded in both and launched in EUR:
    the edge, a client, and the EUR token."""
    config = replace(provider("pragmatic", SECRET.encode()), currencies=("EUR", "USD"))
    async with served_edge(nats_url, stream_prefix, config) as edge:
        await edge.open_players(["p-1"], "EUR")
        await asyncio.to_thread(edge.ledger.open_wallet, "p-1", "USD")
        await asyncio.to_thread(edge.ledger.deposit, "p-1", "USD", OPENING, tx_id="usd-p-1")
        client = PragmaticClient(HttpTransport(edge.http, edge.base("pragmatic")), SECRET)
        yield edge, client, await edge.launch("pragmatic", "p-1", "EUR")


async def test_a_result_and_a_refund_settle_in_the_bets_currency_after_a_session_in_another(
    nats_url: str, stream_prefix: str
) -> None:
    async with euro_and_dollar(nats_url, stream_prefix) as (edge, client, eur):
        for round_id, reference in (("r-1", "b-1"), ("r-2", "b-2")):
            bet = await client.bet(
                user="p-1", round_id=round_id, reference=reference, amount=Decimal(10), token=eur
            )
            assert (bet["error"], bet["currency"]) == (0, "EUR"), bet

        # The player opens a table in USD before the EUR rounds are settled.
        await edge.launch("pragmatic", "p-1", "USD")
        won = await client.result(user="p-1", round_id="r-1", reference="w-1", amount=Decimal(25))
        assert (won["error"], won.get("currency"), won.get("cash")) == (0, "EUR", OPENING + 5), won
        again = await client.result(user="p-1", round_id="r-1", reference="w-1", amount=Decimal(25))
        assert (again["error"], again["transactionId"]) == (0, won["transactionId"]), again
        refunded = await client.refund(user="p-1", reference="b-2", round_id="r-2")
        assert refunded["error"] == 0 and refunded["transactionId"] != "0", refunded
        assert (await client.refund(user="p-1", reference="b-2", round_id="r-2")) == refunded

        assert await edge.balance("p-1", "EUR") == OPENING + 15
        assert await edge.available("p-1", "EUR") == OPENING + 15, "a stake is still held"
        assert await edge.balance("p-1", "USD") == OPENING


async def test_an_end_round_settles_the_bets_left_open_in_their_currency_after_a_switch(
    nats_url: str, stream_prefix: str
) -> None:
    """endRound closes the round and settles the bets left open as lost: in the currency
    they were taken in, though the player's latest session is in another (the closing
    credit in USD found no USD bet and left the EUR stake held for good)."""
    async with euro_and_dollar(nats_url, stream_prefix) as (edge, client, eur):
        bet = await client.bet(
            user="p-1", round_id="r-1", reference="b-1", amount=Decimal(10), token=eur
        )
        assert bet["error"] == 0, bet
        await edge.launch("pragmatic", "p-1", "USD")  # another table, in USD

        ended = await client.end_round(user="p-1", round_id="r-1")
        assert ended["error"] == 0, ended
        assert await client.end_round(user="p-1", round_id="r-1") == ended  # a retry
        state = await asyncio.to_thread(edge.ledger.round_state, "pragmatic", "r-1")
        assert state.status == "CLOSED" and [b.status for b in state.bets] == ["SETTLED"]
        assert await edge.balance("p-1", "EUR") == OPENING - 10
        assert await edge.available("p-1", "EUR") == OPENING - 10, "the stake is lost, not held"
        assert await edge.balance("p-1", "USD") == OPENING
