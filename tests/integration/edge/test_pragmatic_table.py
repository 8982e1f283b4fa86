"""Pragmatic Play end to end: md5-signed forms over HTTP, the real ledger, tokens in KV."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.pragmatic import PragmaticClient
from tests.integration.edge.support.served_edge import (
    Bet,
    play_the_table,
    provider,
    served_edge,
    table_size,
)

SIZE = table_size()
PLAYERS = [f"pp-p{n:02d}" for n in range(SIZE.players)]
SECRET = "pp-secret-key-TEST-ONLY"


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_a_table_of_50_players_over_100_rounds_leaves_the_balances_the_table_expects(
    nats_url: str, stream_prefix: str
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("pragmatic", SECRET.encode())) as edge:
        await edge.open_players(PLAYERS)
        client = PragmaticClient(HttpTransport(edge.http, edge.base("pragmatic")), SECRET)
        tokens: dict[str, str] = {}
        for player in PLAYERS:
            tokens[player] = await edge.launch("pragmatic", player)
            auth = await client.authenticate(token=tokens[player])
            assert (auth["error"], auth["userId"], auth["cash"]) == (0, player, 1000), auth

        async def place(round_id: str, bet: Bet, duplicate: bool) -> None:
            call = client.bet_call(
                user=bet.player,
                round_id=round_id,
                reference=bet.bet_id,
                amount=bet.stake,
                token=tokens[bet.player],
            )
            answer = await client.send(call)
            assert answer["error"] == 0, answer
            if duplicate:
                again = await client.send(call)
                assert (again["error"], again["transactionId"]) == (0, answer["transactionId"])

        async def settle(round_id: str, player: str, bets: list[Bet]) -> None:
            won = sum((b.payout for b in bets), Decimal(0))
            answer = await client.result(
                user=player, round_id=round_id, reference=f"w-{round_id}-{player}", amount=won
            )
            assert answer["error"] == 0, answer
            ended = await client.end_round(user=player, round_id=round_id)
            assert ended["error"] == 0, ended

        async def cancel(round_id: str, bet: Bet) -> None:
            answer = await client.refund(user=bet.player, reference=bet.bet_id, round_id=round_id)
            assert answer["error"] == 0 and answer["transactionId"] != "0", answer

        books = await play_the_table(
            edge, PLAYERS, SIZE, place, settle, cancel, seed=3, prefix="pp"
        )
        for player in PLAYERS:
            answer = await client.balance(user=player)
            assert answer["cash"] == books.expected[player]


async def test_a_refund_before_its_bet_answers_success_and_the_late_bet_is_refused(
    nats_url: str, stream_prefix: str
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("pragmatic", SECRET.encode())) as edge:
        await edge.open_players(["late"])
        token = await edge.launch("pragmatic", "late")
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
