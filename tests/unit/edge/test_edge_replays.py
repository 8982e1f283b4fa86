"""A replayed call reports the balance now, even when that balance is zero.

Decimal("0.00") is falsy: a replay that fell back to its first answer's balance whenever
the current one was "false" reported a stale balance exactly when the player had nothing
left, which Evolution's running-total check and Pragmatic's reconciliation both catch.
"""

from __future__ import annotations

from decimal import Decimal

from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig


async def test_an_evolution_debit_replayed_after_the_wallet_emptied_reports_zero() -> None:
    secret = "evo-auth-token-TEST-ONLY"
    r = rig(provider("evolution", secret.encode()))
    r.fund("u-1", "10.00")
    r.session("evolution", "sid-1", "u-1")
    client = EvolutionClient(GatewayTransport(r.gate("evolution")), secret)

    def debit(tx: str) -> dict[str, object]:
        return {
            "sid": "sid-1",
            "user": "u-1",
            "currency": "EUR",
            "game_id": "g-1",
            "tx_id": tx,
            "ref_id": f"bet-{tx}",
            "amount": Decimal(5),
        }

    first = await client.debit(**debit("t-1"))
    assert (first["status"], first["balance"]) == ("OK", Decimal(5))
    emptied = await client.debit(**debit("t-2"))
    assert (emptied["status"], emptied["balance"]) == ("OK", Decimal(0))
    replay = await client.debit(**debit("t-1"))
    assert replay["status"] == "BET_ALREADY_EXIST"
    assert replay["balance"] == Decimal(0), "the balance now, not the first answer's 5.00"


async def test_a_pragmatic_bet_replayed_after_the_wallet_emptied_reports_zero_cash() -> None:
    r = rig(provider("pragmatic", b"pp-TEST-ONLY"))
    r.fund("u-1", "10.00")
    r.session("pragmatic", "tok-1", "u-1")
    client = PragmaticClient(GatewayTransport(r.gate("pragmatic")), "pp-TEST-ONLY")
    first = await client.bet(user="u-1", round_id="r-1", reference="b-1", amount=Decimal(5))
    assert (first["error"], first["cash"]) == (0, Decimal(5))
    emptied = await client.bet(user="u-1", round_id="r-1", reference="b-2", amount=Decimal(5))
    assert (emptied["error"], emptied["cash"]) == (0, Decimal(0))
    replay = await client.bet(user="u-1", round_id="r-1", reference="b-1", amount=Decimal(5))
    assert replay["error"] == 0
    assert replay["cash"] == Decimal(0), "the cash now, not the first answer's 5.00"
