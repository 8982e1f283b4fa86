"""What Ezugi calls become in the ledger: ids, round closing, rollbacks refusing a late debit."""

from __future__ import annotations

from decimal import Decimal

from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from services.edge.adapters.ezugi import rollback_tx_id
from services.edge.config import OptionValue
from services.simulate.clients.ezugi import EzugiClient
from tests.unit.edge.support.wallet_gateway import player_rig

SECRET = "ezugi-TEST-ONLY-secret"
OPERATOR = 7
OPTIONS: dict[str, OptionValue] = {"operator_id": OPERATOR}


async def test_a_credit_settles_its_debit_and_is_end_round_closes_the_round() -> None:
    r, transport = player_rig("ezugi", SECRET.encode(), "tok-1", options=OPTIONS)
    client = EzugiClient(transport, SECRET, OPERATOR)
    await client.debit(
        user="u-1", token="tok-1", tx="d-1", round_id=77, amount=Decimal("2.5"), currency="EUR"
    )
    await client.credit(
        user="u-1", tx="c-1", debit_tx="d-1", round_id=77, amount=Decimal("5"), currency="EUR"
    )
    debit, credit = r.ledger.commands
    assert (
        isinstance(debit, Debit) and debit.round_id == "77" and debit.session_id.startswith("ses_")
    )
    assert "tok-1" not in debit.session_id, "the log never holds a live token"
    assert isinstance(credit, Credit) and credit.bet_id == "d-1" and credit.closes_round


async def test_a_rollback_is_its_own_transaction_refusing_a_late_debit_and_only_an_open_bet() -> (
    None
):
    r, transport = player_rig("ezugi", SECRET.encode(), "tok-1", options=OPTIONS)
    client = EzugiClient(transport, SECRET, OPERATOR)
    await client.debit(
        user="u-1", token="tok-1", tx="d-1", round_id=77, amount=Decimal("2.5"), currency="EUR"
    )
    answer = await client.rollback(
        user="u-1", debit_tx="d-1", round_id=77, amount=Decimal("2.5"), currency="EUR"
    )
    assert answer["errorCode"] == 0 and answer["balance"] == Decimal("100")
    rollback = r.ledger.commands[-1]
    assert isinstance(rollback, Rollback)
    assert rollback.tx_id == rollback_tx_id("d-1") == "rollback:d-1"
    assert rollback.ref_tx_id == "d-1" and rollback.late_original == "refuse" and rollback.only_open
    assert rollback.amount == Decimal("2.50")


async def test_auth_hands_out_a_new_session_token_and_keeps_the_launch_token() -> None:
    _, transport = player_rig("ezugi", SECRET.encode(), "launch", options=OPTIONS)
    client = EzugiClient(transport, SECRET, OPERATOR)
    first = await client.auth(token="launch")
    again = await client.auth(token="launch")
    assert first["errorCode"] == again["errorCode"] == 0
    assert first["token"] != "launch" and first["token"] != again["token"]
    debit = await client.debit(
        user="u-1", token=first["token"], tx="d-1", round_id=1, amount=Decimal(1), currency="EUR"
    )
    assert debit["errorCode"] == 0 and debit["balance"] == Decimal("99")
