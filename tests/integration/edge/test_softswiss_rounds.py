"""SoftSwiss rounds against the real ledger: how `finished` ends them."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from services.ledger.views import BetStatus
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet
from services.simulate.clients.softswiss import rollback
from services.simulate.clients.softswiss import win
from tests.integration.edge.support.golden_ledger import RealRig
from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.wallet_gateway import provider

SECRET = "softswiss-TEST-ONLY-token"


async def _funded(rig: RealRig) -> SoftSwissClient:
    """Player u-1 with 100 EUR; the client the provider calls with."""

    def fund() -> None:
        rig.ledger.open_wallet("u-1", "EUR")
        rig.ledger.deposit("u-1", "EUR", Decimal(100), tx_id="open-u-1")

    await asyncio.to_thread(fund)
    return SoftSwissClient(rig.transport("softswiss"), SECRET)


async def test_a_round_finished_on_a_bet_settles_the_bet_as_lost_once(
    nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, provider("softswiss", SECRET.encode())) as rig:
        client = await _funded(rig)
        # SoftSwiss acceptance scenario C: one bet, `finished`, no win: the round is lost.
        lost = client.play_call(
            user="u-1",
            currency="EUR",
            round_id="r-1",
            actions=[bet("a-1", Decimal(1), "EUR")],
            finished=True,
        )
        first = await client.send(lost)
        again = await client.send(lost)
        assert first["balance"] == again["balance"] == 9900
        assert first["transactions"] == [
            {**again["transactions"][0], "processed_at": first["transactions"][0]["processed_at"]}
        ]
        wallet = await asyncio.to_thread(rig.ledger.balance, "u-1", "EUR")
        assert (wallet.balance, wallet.held) == (Decimal(99), Decimal(0)), "the stake is lost"
        state = await asyncio.to_thread(rig.ledger.round_state, "softswiss", "r-1")
        assert [b.status for b in state.bets] == [BetStatus.SETTLED]
        # The round is over: a rollback of its bet still gives the stake back.
        undo = await client.rollback(
            user="u-1", currency="EUR", round_id="r-1", actions=[rollback("rb-1", "a-1")]
        )
        assert undo["balance"] == 10000
        wallet = await asyncio.to_thread(rig.ledger.balance, "u-1", "EUR")
        assert (wallet.balance, wallet.held) == (Decimal(100), Decimal(0))


async def test_a_round_finished_on_a_win_rolled_back_before_it_came_settles_its_bets_as_lost(
    nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, provider("softswiss", SECRET.encode())) as rig:
        client = await _funded(rig)
        # The provider rolls the round's win back before the win itself reaches the casino.
        early = await client.rollback(
            user="u-1", currency="EUR", round_id="r-1", actions=[rollback("rb-1", "w-1")]
        )
        assert early["transactions"][0]["tx_id"] == "", "a pre-rollback"
        ended = client.play_call(
            user="u-1",
            currency="EUR",
            round_id="r-1",
            actions=[bet("a-1", Decimal(1), "EUR"), win("w-1", Decimal(3), "EUR")],
            finished=True,
        )
        first = await client.send(ended)
        again = await client.send(ended)
        assert first["balance"] == again["balance"] == 9900, "the stake is gone, the win never came"
        wallet = await asyncio.to_thread(rig.ledger.balance, "u-1", "EUR")
        assert (wallet.balance, wallet.held) == (Decimal(99), Decimal(0)), "no stake held forever"
        state = await asyncio.to_thread(rig.ledger.round_state, "softswiss", "r-1")
        assert [b.status for b in state.bets] == [BetStatus.SETTLED]


async def test_a_round_finished_by_a_rollback_settles_the_bets_left_open_as_lost(
    nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, provider("softswiss", SECRET.encode())) as rig:
        client = await _funded(rig)
        for action in ("a-1", "a-2"):
            placed = await client.play(
                user="u-1", currency="EUR", round_id="r-1", actions=[bet(action, Decimal(1), "EUR")]
            )
            assert placed["http_status"] == 200, placed
        # The provider cancels the second bet, and with it ends the round: no win comes.
        ended = client.rollback_call(
            user="u-1",
            currency="EUR",
            round_id="r-1",
            actions=[rollback("rb-2", "a-2")],
            finished=True,
        )
        first = await client.send(ended)
        again = await client.send(ended)
        assert first["balance"] == again["balance"] == 9900, (first, again)
        wallet = await asyncio.to_thread(rig.ledger.balance, "u-1", "EUR")
        assert (wallet.balance, wallet.held) == (Decimal(99), Decimal(0)), "no stake held forever"
        state = await asyncio.to_thread(rig.ledger.round_state, "softswiss", "r-1")
        assert sorted(b.status for b in state.bets) == [BetStatus.REFUNDED, BetStatus.SETTLED]
