"""SoftSwiss bets under a `session_id`: the session is the player's, live, and in the bet's
currency."""

from __future__ import annotations

from decimal import Decimal

from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

SECRET = "softswiss-TEST-ONLY-token"


async def test_a_bet_in_another_currency_than_its_sessions_is_refused_and_moves_nothing() -> None:
    r = rig(provider("softswiss", SECRET.encode(), currencies=("EUR", "USD")))
    r.fund("u-1", "100.00", "EUR")
    r.fund("u-1", "100.00", "USD")
    r.session("softswiss", "s-eur", "u-1", "EUR")
    client = SoftSwissClient(GatewayTransport(r.gate("softswiss")), SECRET)
    before = r.ledger.snapshot()
    answer = await client.play(
        user="u-1",
        currency="USD",
        round_id="r-1",
        actions=[bet("a-1", Decimal(5), "USD")],
        session_id="s-eur",
    )
    assert (answer["http_status"], answer["code"]) == (412, 154), answer
    assert r.ledger.snapshot() == before
    euros = await client.play(
        user="u-1",
        currency="EUR",
        round_id="r-1",
        actions=[bet("a-1", Decimal(5), "EUR")],
        session_id="s-eur",
    )
    assert (euros["http_status"], euros["balance"]) == (200, 9500), euros
