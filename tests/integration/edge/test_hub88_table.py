"""Hub88 end to end: signed HTTP calls, the real ledger on JetStream, sessions in KV."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.hub88 import Hub88Client, load_private_key, major
from tests.integration.edge.support.served_edge import (
    Bet,
    play_the_table,
    provider,
    served_edge,
    table_size,
)
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM, HUB88_PUBLIC_PEM

SIZE = table_size(bettors=6)
"""Six a round, not eight: every Hub88 call is RSA-signed both ways (signing alone took 14 s
of a 172 s profiled run of this table on a loaded machine); six keep it near the others."""
PLAYERS = [f"h88-p{n:02d}" for n in range(SIZE.players)]


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_a_table_of_50_players_over_100_rounds_leaves_the_balances_the_table_expects(
    nats_url: str, stream_prefix: str
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("hub88", HUB88_PUBLIC_PEM)) as edge:
        await edge.open_players(PLAYERS)
        tokens = {p: await edge.launch("hub88", p) for p in PLAYERS}
        client = Hub88Client(
            HttpTransport(edge.http, edge.base("hub88")), load_private_key(HUB88_PRIVATE_PEM)
        )

        async def place(round_id: str, bet: Bet, duplicate: bool) -> None:
            call = client.bet_call(
                user=bet.player,
                token=tokens[bet.player],
                round_id=round_id,
                tx=bet.bet_id,
                amount=bet.stake,
                currency="EUR",
            )
            answer = await client.send(call)
            assert answer["status"] == "RS_OK", answer
            if duplicate:
                again = await client.send(call)
                assert again == answer, (answer, again)

        async def settle(round_id: str, player: str, bets: list[Bet]) -> None:
            for index, bet in enumerate(bets):
                answer = await client.win(
                    user=player,
                    token=tokens[player],
                    round_id=round_id,
                    tx=f"w-{bet.bet_id}",
                    bet_tx=bet.bet_id,
                    amount=bet.payout,
                    currency="EUR",
                    round_closed=index == len(bets) - 1,
                )
                assert answer["status"] == "RS_OK", answer

        async def cancel(round_id: str, bet: Bet) -> None:
            answer = await client.rollback(
                user=bet.player,
                token=tokens[bet.player],
                round_id=round_id,
                tx=f"rb-{bet.bet_id}",
                ref_tx=bet.bet_id,
            )
            assert answer["status"] == "RS_OK", answer

        books = await play_the_table(
            edge, PLAYERS, SIZE, place, settle, cancel, seed=88, prefix="h88"
        )
        for player in PLAYERS:
            answer = await client.balance(user=player, token=tokens[player])
            assert major(answer["balance"], "EUR") == books.expected[player]


async def test_rollback_before_bet_then_the_late_bet_is_refused_and_nothing_moves(
    nats_url: str, stream_prefix: str
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("hub88", HUB88_PUBLIC_PEM)) as edge:
        await edge.open_players(["late"])
        token = await edge.launch("hub88", "late")
        client = Hub88Client(
            HttpTransport(edge.http, edge.base("hub88")), load_private_key(HUB88_PRIVATE_PEM)
        )
        bet_tx = str(uuid.uuid4())
        rolled = await client.rollback(
            user="late", token=token, round_id="r-1", tx=str(uuid.uuid4()), ref_tx=bet_tx
        )
        assert rolled["status"] == "RS_OK" and rolled["balance"] == 100_000_000
        late = await client.bet(
            user="late", token=token, round_id="r-1", tx=bet_tx, amount=Decimal(1), currency="EUR"
        )
        assert late["status"] == "RS_ERROR_TRANSACTION_ROLLED_BACK"
        assert await edge.balance("late") == 1000


async def test_forged_unsigned_and_oversized_requests_get_hub88_errors_over_http(
    nats_url: str, stream_prefix: str
) -> None:
    async with served_edge(nats_url, stream_prefix, provider("hub88", HUB88_PUBLIC_PEM)) as edge:
        await edge.open_players(["victim"])
        token = await edge.launch("hub88", "victim")
        client = Hub88Client(
            HttpTransport(edge.http, edge.base("hub88")), load_private_key(HUB88_PRIVATE_PEM)
        )
        call = client.bet_call(
            user="victim", token=token, round_id="r", tx="t", amount=Decimal(5), currency="EUR"
        )
        forged = client.prepare_raw(call.path, call.body, signature="AAAA")
        unsigned = client.prepare_raw(call.path, call.body, signature="")
        huge = client.prepare_raw(call.path, b'{"user":"' + b"x" * 70000 + b'"}')
        for bad, http_status, status in (
            (forged, 200, "RS_ERROR_INVALID_SIGNATURE"),
            (unsigned, 200, "RS_ERROR_INVALID_SIGNATURE"),
            (huge, 413, "RS_ERROR_WRONG_SYNTAX"),
        ):
            answer = await client.send(bad)
            assert (answer["http_status"], answer["status"]) == (http_status, status)
        async with edge.http.post(
            f"{edge.base('hub88')}/transaction/bet", data=b"{", headers={"Connection": "close"}
        ) as response:
            assert response.status == 200
            assert msgspec.json.decode(await response.read())["status"] == (
                "RS_ERROR_INVALID_SIGNATURE"
            )
        assert await edge.balance("victim") == 1000
