"""A provider's wallet transaction that says the round is over closes it in the ledger.

Hub88 `round_closed`, Ezugi `isEndRound`, SoftSwiss `finished` and Pragmatic `endRound`
reach the ledger as `closes_round`: once the transaction is taken, the round is closed
(I5: a later bet is refused, a bet the log puts after the close is refunded as late) and
the round reads CLOSED.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

import msgspec
import pytest

from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Rollback
from projections.rounds.replay import compare_with_ledger
from projections.rounds.replay import replay_round
from projections.rounds.round_from_log import fold
from projections.rounds.round_from_log import round_notifications
from services.edge.adapters.base import EdgeContext
from services.edge.config import ProvidersConfig
from services.edge.gateway import Gateway
from services.edge.ports import AsyncLedger
from services.edge.sessions import MemorySessionStore
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from services.ledger.known_rounds import RoundNote
from services.ledger.rounds import Round
from services.ledger.views import BetStatus
from services.ledger.views import RoundStatus
from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import logged_since
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.builders import popo_ledger
from tests.unit.ledger.support.builders import rollback
from tests.unit.projections.support.rounds_views import OneRound

Closing = TypeVar("Closing", Credit, Rollback)


def closing(command: Closing) -> Closing:
    """`command` as a provider sends it when it ends the round."""
    return msgspec.structs.replace(command, closes_round=True)


def closed_by_a_win() -> Ledger:
    """p1's bet b1 of 10 at hub88 on round r1, then the win of 20 that closes the round."""
    ledger = p1_funded()
    ledger.execute(debit("b1", "10", provider="hub88"))
    ledger.execute(closing(credit("w1", "20", bet_id="b1", provider="hub88")))
    return ledger


def test_a_closing_win_closes_the_round_and_a_later_bet_is_refused() -> None:
    ledger = closed_by_a_win()

    assert ledger.round_state("hub88", "r1").status is RoundStatus.CLOSED
    with pytest.raises(LedgerRefused) as refused:
        ledger.execute(debit("b2", "10", provider="hub88"))
    assert refused.value.code is Refusal.BETTING_CLOSED
    assert ledger.balance("p1", "EUR").available == Decimal("110")


def test_the_close_is_stored_after_the_transaction_and_only_once() -> None:
    ledger = p1_funded()
    ledger.execute(debit("b1", "10", provider="hub88"))
    ledger.execute(debit("b2", "10", provider="hub88"))
    start = ledger.recorder.max_notification_id() or 0
    ledger.execute(closing(credit("w1", "0", bet_id="b1", provider="hub88")))
    ledger.execute(closing(credit("w2", "0", bet_id="b2", provider="hub88")))

    names = [name for name, _ in logged_since(ledger, start)]
    closes = [i for i, name in enumerate(names) if name == "Round.ClosedByTransaction"]
    assert len(closes) == 1, names
    assert names.index("Bet.Settled") < closes[0], "the close comes after the win it ends"
    assert [b.status for b in ledger.round_state("hub88", "r1").bets] == [BetStatus.SETTLED] * 2


def test_a_bet_the_log_puts_after_the_close_is_refunded_as_late(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = p1_funded()
    funded(ledger, "p2", "100")
    ledger.execute(debit("b1", "10", provider="hub88"))
    # p2's bet finds the round open, then p1's closing win lands before p2's bet is saved.
    racing_close = closing(credit("w1", "0", bet_id="b1", provider="hub88"))
    original = ledger._round_for

    def close_during_look(cmd: Debit) -> Round | RoundNote | None:
        found = original(cmd)
        monkeypatch.undo()
        ledger.execute(racing_close)
        return found

    monkeypatch.setattr(ledger, "_round_for", close_during_look)
    ledger.execute(debit("b2", "10", player="p2", provider="hub88"))
    ledger.drain_round_book()

    late = [b for b in ledger.round_state("hub88", "r1").bets if b.player == "p2"]
    assert [(b.status, b.cause) for b in late] == [(BetStatus.REFUNDED, "LATE_BET")]
    assert ledger.balance("p2", "EUR").available == Decimal("100")


def test_a_closing_rollback_closes_the_round_even_when_it_finds_nothing() -> None:
    ledger = p1_funded()
    ledger.execute(closing(rollback("rb1", "b9", provider="hub88", round_id="r1")))
    assert ledger.round_state("hub88", "r1").status is RoundStatus.CLOSED


def test_a_refused_closing_transaction_leaves_the_round_open() -> None:
    ledger = p1_funded()
    with pytest.raises(LedgerRefused):
        ledger.execute(closing(credit("w1", "5", bet_id="nope", provider="hub88")))
    assert ledger.round_state("hub88", "r1").status is RoundStatus.UNKNOWN
    ledger.execute(debit("b1", "10", provider="hub88"))


def test_the_dispute_view_and_its_replay_read_the_closed_round_as_closed() -> None:
    ledger = closed_by_a_win()
    position = ledger.recorder.max_notification_id() or 0

    events = round_notifications(ledger, "hub88", "r1")
    record = fold(ledger, "hub88", "r1", events, position)

    assert record is not None and record.status == "CLOSED"
    assert "Round.ClosedByTransaction" in [t.event for t in record.timeline]
    assert compare_with_ledger(record, ledger.round_state("hub88", "r1")) == []
    (replay,) = replay_round(ledger, OneRound(record), "r1")
    assert replay.differences == []


async def test_a_pragmatic_end_round_after_every_result_closes_the_round_once() -> None:
    # Pragmatic sends a result for each bet, then endRound: nothing is open any more, yet
    # the round must read CLOSED (and take no more bets); a re-sent endRound is a success
    # that writes nothing ("if already finalized return success").
    ledger = popo_ledger()
    funded(ledger, "u-1", "100")
    context = EdgeContext(ledger=AsyncLedger(ledger, workers=1), sessions=MemorySessionStore())
    gateway = Gateway(ProvidersConfig((provider("pragmatic", b"k"),)), context)
    pp = PragmaticClient(GatewayTransport(gateway.gate("pragmatic")), "k")
    placed = await pp.bet(user="u-1", round_id="r-1", reference="b-1", amount=Decimal(5))
    assert placed["error"] == 0, placed
    paid = await pp.result(user="u-1", round_id="r-1", reference="w-1", amount=Decimal(12))
    assert paid["error"] == 0, paid
    assert ledger.round_state("pragmatic", "r-1").status is not RoundStatus.CLOSED

    ended = await pp.end_round(user="u-1", round_id="r-1")
    assert (ended["error"], Decimal(str(ended["cash"]))) == (0, Decimal("107")), ended
    assert ledger.round_state("pragmatic", "r-1").status is RoundStatus.CLOSED
    head = ledger.recorder.max_notification_id()
    again = await pp.end_round(user="u-1", round_id="r-1")
    assert (again["error"], Decimal(str(again["cash"]))) == (0, Decimal("107")), again
    assert ledger.recorder.max_notification_id() == head, "a repeated endRound wrote again"
    late = await pp.bet(user="u-1", round_id="r-1", reference="b-2", amount=Decimal(5))
    assert late["error"] == 3, late
    assert ledger.balance("u-1", "EUR").available == Decimal("107")
