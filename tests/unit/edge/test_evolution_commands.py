"""The ledger commands Evolution's debit and credit become: every field from the call, the
debit with its table and the session it is recorded under, the credit with neither."""

from __future__ import annotations

from decimal import Decimal

from contracts.wallet import Credit
from contracts.wallet import Debit
from services.edge.sessions import Session
from services.edge.sessions import session_ref
from services.simulate.clients.evolution import EvolutionClient
from tests.unit.edge.support.wallet_gateway import player_rig

SECRET = "commands-TEST-ONLY-secret"


async def test_a_debit_carries_the_call_its_table_and_its_session_and_a_credit_no_table() -> None:
    r, transport = player_rig("evolution", SECRET.encode(), "sid-1")
    client = EvolutionClient(transport, SECRET)
    r.sessions.put(
        Session(
            token="sid-2",
            provider="evolution",
            player="u-1",
            currency="EUR",
            issued_at=r.clock[0],
            expires_at=r.clock[0] + 3600,
            platform_session="ps-7",
        )
    )
    calls = {"sid-1": "tx-1", "sid-2": "tx-2"}
    for sid, tx in calls.items():
        answer = await client.debit(
            sid=sid,
            user="u-1",
            currency="EUR",
            game_id="g-1",
            tx_id=tx,
            ref_id=f"bet-{tx}",
            amount=Decimal("2.50"),
            table="vip-roulette-1",
        )
        assert answer["status"] == "OK"
    answer = await client.credit(
        sid="sid-1",
        user="u-1",
        currency="EUR",
        game_id="g-1",
        tx_id="win-1",
        ref_id="bet-tx-1",
        amount=Decimal(5),
    )
    assert answer["status"] == "OK"

    def debit(tx: str, session_id: str) -> Debit:
        return Debit(
            provider="evolution",
            tx_id=tx,
            player="u-1",
            currency="EUR",
            amount=Decimal("2.50"),
            round_id="g-1",
            bet_id=f"bet-{tx}",
            game="roulette",
            table="vip-roulette-1",
            session_id=session_id,
        )

    assert r.ledger.commands == [
        debit("tx-1", session_ref("sid-1")),
        debit("tx-2", "ps-7"),
        Credit(
            provider="evolution",
            tx_id="win-1",
            player="u-1",
            currency="EUR",
            amount=Decimal(5),
            round_id="g-1",
            bet_id="bet-tx-1",
            game="roulette",
        ),
    ]
