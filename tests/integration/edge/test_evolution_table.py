"""Evolution One Wallet end to end: authToken, sid rotation in KV, the real ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.evolution import EvolutionClient
from tests.integration.edge.support.served_edge import (
    Bet,
    play_the_table,
    provider,
    served_edge,
    table_size,
)

SIZE = table_size()
PLAYERS = [f"evo-p{n:02d}" for n in range(SIZE.players)]
SECRET = "evo-auth-token-TEST-ONLY"


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_a_table_of_50_players_over_100_rounds_leaves_the_balances_the_table_expects(
    nats_url: str, stream_prefix: str
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("evolution", SECRET.encode())) as edge:
        await edge.open_players(PLAYERS)
        client = EvolutionClient(HttpTransport(edge.http, edge.base("evolution")), SECRET)
        sids: dict[str, str] = {}
        for player in PLAYERS:
            launch = await edge.launch("evolution", player)
            checked = await client.check(sid=launch, user=player)
            assert checked["status"] == "OK" and checked["sid"] != launch, checked
            sids[player] = checked["sid"]
            stale = await client.balance(sid=launch, user=player, currency="EUR")
            assert stale["status"] == "INVALID_SID"

        async def place(round_id: str, bet: Bet, duplicate: bool) -> None:
            debit = client.transaction_call(
                "debit",
                sid=sids[bet.player],
                user=bet.player,
                currency="EUR",
                game_id=round_id,
                tx_id=f"d-{bet.bet_id}",
                ref_id=bet.bet_id,
                amount=bet.stake,
            )
            answer = await client.send(debit)
            assert answer["status"] == "OK", answer
            if duplicate:
                again = await client.send(debit)
                assert again["status"] == "BET_ALREADY_EXIST", again

        async def settle(round_id: str, player: str, bets: list[Bet]) -> None:
            for bet in bets:
                answer = await client.credit(
                    sid=sids[player],
                    user=player,
                    currency="EUR",
                    game_id=round_id,
                    tx_id=f"c-{bet.bet_id}",
                    ref_id=bet.bet_id,
                    amount=bet.payout,
                )
                assert answer["status"] == "OK", answer

        async def cancel(round_id: str, bet: Bet) -> None:
            answer = await client.cancel(
                sid="",
                user=bet.player,
                currency="EUR",
                game_id=round_id,
                tx_id=f"d-{bet.bet_id}",
                ref_id=bet.bet_id,
                amount=bet.stake,
            )
            assert answer["status"] == "OK", answer

        books = await play_the_table(
            edge, PLAYERS, SIZE, place, settle, cancel, seed=1, prefix="evo"
        )
        for player in PLAYERS:
            answer = await client.balance(sid=sids[player], user=player, currency="EUR")
            assert answer["balance"] == books.expected[player]


async def test_a_debit_after_its_cancel_is_a_final_error_and_moves_nothing(
    nats_url: str, stream_prefix: str
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("evolution", SECRET.encode())) as edge:
        await edge.open_players(["late"])
        sid = await edge.launch("evolution", "late")
        client = EvolutionClient(HttpTransport(edge.http, edge.base("evolution")), SECRET)
        args = {
            "sid": sid,
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
        wrong = await client.send(client.prepare("balance", {"sid": sid}, auth="nope"))
        assert wrong["status"] == "INVALID_TOKEN_ID"
