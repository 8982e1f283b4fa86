"""What SoftSwiss calls become in the ledger: ids, round closing, pre-rollback behaviour."""

from __future__ import annotations

from decimal import Decimal

from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Rollback
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet
from services.simulate.clients.softswiss import rollback
from services.simulate.clients.softswiss import win
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

SECRET = "softswiss-TEST-ONLY-token"
EUR = "EUR"


async def test_finished_closes_the_round_with_the_requests_last_action() -> None:
    r, transport = player_rig("softswiss", SECRET.encode())
    client = SoftSwissClient(transport, SECRET)
    actions = [bet("a-1", Decimal("5"), EUR), win("a-2", Decimal("10"), EUR)]
    answer = await client.play(
        user="u-1", currency=EUR, round_id="r-1", actions=actions, finished=True
    )
    assert answer["http_status"] == 200
    debit, credit = r.ledger.commands
    assert isinstance(debit, Debit) and not debit.closes_round
    assert debit.amount == Decimal("5.00") and debit.round_id == "r-1" and debit.tx_id == "a-1"
    assert isinstance(credit, Credit) and credit.closes_round and credit.bet_id == ""


async def test_a_rollback_undoes_whatever_it_names_and_absorbs_a_late_original() -> None:
    r, transport = player_rig("softswiss", SECRET.encode())
    client = SoftSwissClient(transport, SECRET)
    await client.rollback(
        user="u-1", currency=EUR, round_id="r-1", actions=[rollback("rb-1", "a-1")]
    )
    command = r.ledger.commands[-1]
    assert isinstance(command, Rollback)
    assert command.ref_tx_id == "a-1" and command.late_original == "absorb"
    assert not command.only_open
    late = await client.play(
        user="u-1", currency=EUR, round_id="r-1", actions=[bet("a-1", Decimal("5"), EUR)]
    )
    assert late["http_status"] == 200 and late["transactions"][0]["tx_id"]
    assert late["balance"] == 10000, "the late bet moved nothing"


async def test_a_balance_query_moves_nothing_and_needs_no_round() -> None:
    r = rig(provider("softswiss", SECRET.encode()))
    r.fund("u-1", "12.34")
    client = SoftSwissClient(GatewayTransport(r.gate("softswiss")), SECRET)
    answer = await client.balance(user="u-1", currency=EUR)
    assert answer == {"balance": 1234, "http_status": 200}
    assert r.ledger.commands == []
