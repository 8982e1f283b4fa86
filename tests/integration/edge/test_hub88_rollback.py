"""Hub88 rollbacks against the real ledger: a rollback names no currency, so the bridge
finds the one of the transaction it undoes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from services.edge.sessions import Session
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from tests.integration.edge.support.golden_ledger import RealRig
from tests.integration.edge.support.golden_ledger import real_rig
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM
from tests.unit.edge.support.wallet_gateway import NOW
from tests.unit.edge.support.wallet_gateway import provider

CONFIG = provider("hub88", HUB88_PUBLIC_PEM, currencies=("EUR", "USD"))


async def _fund(rig: RealRig) -> Hub88Client:
    """Player u-1 with 100 in each currency; the client Hub88 calls with."""

    def fund() -> None:
        for currency in ("EUR", "USD"):
            rig.ledger.open_wallet("u-1", currency)
            rig.ledger.deposit("u-1", currency, Decimal(100), tx_id=f"open-{currency}")

    await asyncio.to_thread(fund)
    return Hub88Client(rig.transport("hub88"), load_private_key(HUB88_PRIVATE_PEM))


def _launch(rig: RealRig, token: str, currency: str) -> None:
    rig.sessions.put(
        Session(
            token=token,
            provider="hub88",
            player="u-1",
            currency=currency,
            issued_at=NOW,
            expires_at=NOW + 3600,
        )
    )


async def test_a_rollback_undoes_a_euro_bet_after_the_player_opened_a_dollar_session(
    nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, CONFIG) as rig:
        client = await _fund(rig)
        _launch(rig, "tok-eur", "EUR")
        for bet in ("b-1", "b-2"):
            call = client.bet_call(
                user="u-1",
                token="tok-eur",
                round_id="r-1",
                tx=bet,
                amount=Decimal(5),
                currency="EUR",
            )
            assert (await client.send(call))["status"] == "RS_OK"
        # The player opens another game in dollars; Hub88 then rolls the euro bets back,
        # with the euro session's token or the dollar one, and, as always, no currency.
        _launch(rig, "tok-usd", "USD")
        for bet, token, balance in (("b-1", "tok-eur", 95), ("b-2", "tok-usd", 100)):
            rollback = client.rollback_call(
                user="u-1", token=token, round_id="r-1", tx=f"rb-{bet}", ref_tx=bet
            )
            answer = await client.send(rollback)
            assert (answer["status"], answer["currency"]) == ("RS_OK", "EUR"), answer
            assert answer["balance"] == balance * 10**5
        euros = await asyncio.to_thread(rig.ledger.balance, "u-1", "EUR")
        assert (euros.balance, euros.held) == (Decimal(100), Decimal(0))


async def test_a_retried_rollback_gets_its_first_answer_after_the_player_changed_currency(
    nats_url: str, stream_prefix: str
) -> None:
    async with real_rig(nats_url, stream_prefix, CONFIG) as rig:
        client = await _fund(rig)
        _launch(rig, "tok-eur", "EUR")
        bet = client.bet_call(
            user="u-1", token="tok-eur", round_id="r-1", tx="b-1", amount=Decimal(5), currency="EUR"
        )
        assert (await client.send(bet))["status"] == "RS_OK"
        # Two rollbacks without a token, answered while euros were the latest session's:
        # one of the bet, one of a transaction the bridge never saw.
        undo = client.rollback_call(user="u-1", token="", round_id="r-1", tx="rb-1", ref_tx="b-1")
        unseen = client.rollback_call(
            user="u-1", token="", round_id="r-2", tx="rb-2", ref_tx="b-never"
        )
        first = [await client.send(undo), await client.send(unseen)]
        assert [a["status"] for a in first] == ["RS_OK", "RS_OK"], first
        # The player moves to a dollar game; Hub88 retries both (the same bytes).
        _launch(rig, "tok-usd", "USD")
        again = [await client.send(undo), await client.send(unseen)]
        assert again == first, "a retry is answered as the first time, never as a duplicate"
        euros = await asyncio.to_thread(rig.ledger.balance, "u-1", "EUR")
        dollars = await asyncio.to_thread(rig.ledger.balance, "u-1", "USD")
        assert (euros.available, dollars.available) == (Decimal(100), Decimal(100))
