"""round.settle for payments outside any bet: promotions, jackpots, adjustments."""

from __future__ import annotations

from decimal import Decimal

from contracts.platform import DECODER
from contracts.platform import ENCODER
from contracts.platform import TransactionType
from contracts.wallet import AwardCause
from services.ledger.application import record_ref
from services.platform.publisher import log_reader
from services.platform.settle import SettleTracker
from tests.unit.ledger.support.builders import award
from tests.unit.ledger.support.builders import player_rollback
from tests.unit.platform.support.settle_log import ledger
from tests.unit.platform.support.settle_log import settlements


def test_each_award_is_a_settlement_of_its_own_with_its_cause_and_the_balance_after() -> None:
    app = ledger()
    app.execute(award("promo-1", "5.00", AwardCause.PROMO, player="alice"))
    app.execute(
        award("promo-1", "5.00", AwardCause.PROMO, player="alice")
    )  # a repeat moves nothing
    app.execute(award("jp-1", "100.00", AwardCause.JACKPOT, player="alice", round_id="R-7"))
    app.execute(award("adj-1", "-2.50", AwardCause.ADJUSTMENT, player="alice"))
    app.execute(
        award("free-bet", "0", AwardCause.PROMO, player="alice")
    )  # nothing moved: nothing to say

    promo, jackpot, adjustment = settlements(app)

    assert (promo.round_id, promo.bets, promo.balance_after) == ("promo-1", (), Decimal("105"))
    ((move,),) = [promo.transactions]
    assert (move.type, move.amount, move.cause) == (TransactionType.CREDIT, Decimal("5"), "PROMO")
    assert (move.id, move.provider_tx_id) == (record_ref("evo", "promo-1"), "promo-1")
    assert jackpot.round_id == "R-7" and jackpot.transactions[0].cause == "JACKPOT"
    assert adjustment.transactions[0].type is TransactionType.DEBIT
    assert adjustment.transactions[0].amount == Decimal("2.50")
    assert adjustment.balance_after == app.balance("alice", "EUR").balance == Decimal("202.50")
    assert DECODER.decode(ENCODER.encode(promo)) == promo
    assert len({promo.event_id, jackpot.event_id, adjustment.event_id}) == 3


def test_an_award_rolled_back_settles_again_as_a_debit_and_the_publisher_sees_it() -> None:
    app = ledger()
    app.execute(award("promo-1", "5.00", AwardCause.PROMO, player="alice"))
    app.execute(player_rollback("rb-1", "alice", "promo-1", round_id=""))
    read = log_reader(app)
    tracker, published = SettleTracker(), []
    for position, event, _trace in read(1, 10_000):
        if event is not None:
            published += tracker.apply(position, event)

    assert published == settlements(app)
    paid, taken = published
    assert [t.type for t in (*paid.transactions, *taken.transactions)] == ["CREDIT", "DEBIT"]
    assert taken.transactions[0].provider_tx_id == "rb-1"
    assert taken.balance_after == Decimal("100.00")
