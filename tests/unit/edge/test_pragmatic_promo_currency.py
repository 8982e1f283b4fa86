"""A `promoWin` that names its currency pays the prize in it: the player may have opened a
session in another of the provider's currencies since the campaign was won."""

from __future__ import annotations

from decimal import Decimal

from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

SECRET = "promo-currency-TEST-ONLY-secret"


async def test_a_promo_win_naming_a_currency_of_the_provider_pays_in_it() -> None:
    r = rig(provider("pragmatic", SECRET.encode(), currencies=("EUR", "USD")))
    r.fund("u-1", "100.00", "EUR")
    r.fund("u-1", "100.00", "USD")
    r.session("pragmatic", "tok-eur", "u-1", "EUR")
    r.session("pragmatic", "tok-usd", "u-1", "USD")  # the player's last session
    client = PragmaticClient(GatewayTransport(r.gate("pragmatic")), SECRET)

    def promo(reference: str, currency: str) -> dict[str, str]:
        return {"userId": "u-1", "amount": "15.00", "reference": reference, "currency": currency}

    won = await client.send(client.prepare("promoWin.html", promo("pw-1", "EUR")))
    assert (won["error"], won.get("currency"), won.get("cash")) == (0, "EUR", Decimal("115.00"))
    again = await client.send(client.prepare("promoWin.html", promo("pw-1", "EUR")))
    assert (again["error"], again["transactionId"]) == (0, won["transactionId"]), again
    assert r.ledger.wallets == {("u-1", "EUR"): Decimal("115.00"), ("u-1", "USD"): Decimal(100)}

    before = r.ledger.snapshot()
    other = await client.send(client.prepare("promoWin.html", promo("pw-2", "GBP")))
    assert other["error"] == 7, other
    assert r.ledger.snapshot() == before
