"""A player's stake and loss limits count the money staked and lost in a day, week or month:
a refund or a win counts in the period of the stake it resolves, however late it comes, so
a stake of 23:59:50 voided at 00:00:10 frees nothing of the new day's allowance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import eventsourcing.domain
import pytest

import services.ledger.protection
from contracts.protection import LimitKind
from contracts.protection import Period
from contracts.protection import ProtectionLimit
from contracts.wallet import Refusal
from services.ledger.domain import SETTLED_STAKES_KEPT
from services.ledger.domain import Wallet
from services.ledger.domain import provider_account
from services.ledger.errors import LedgerRefused
from services.ledger.protection import Protection
from services.ledger.tally import Tally
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import opened
from tests.unit.ledger.support.builders import p1_funded
from tests.unit.ledger.support.builders import voided

BEFORE_MIDNIGHT = datetime(2026, 12, 7, 23, 59, 50, tzinfo=UTC)  # a Monday
AFTER_MIDNIGHT = BEFORE_MIDNIGHT + timedelta(seconds=20)


class Clock:
    """The time the wallet's events are stamped with."""

    def __init__(self) -> None:
        self.now = BEFORE_MIDNIGHT

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    stamped = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", stamped)

    class Now(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return stamped.now

    monkeypatch.setattr(services.ledger.protection, "datetime", Now)
    yield stamped


def funded() -> Wallet:
    wallet = Wallet(player="ann", currency="EUR")
    wallet.deposit("dep-1", Decimal(1000), provider_account("evo"))  # not counted
    return wallet


def day(wallet: Wallet, at: datetime) -> Tally:
    return wallet.period_tally("DAY", at)


def test_a_stake_refunded_after_midnight_frees_nothing_of_the_new_days_stakes(
    clock: Clock,
) -> None:
    wallet = funded()
    wallet.hold("bet-1", Decimal(100), "r1")
    clock.now = AFTER_MIDNIGHT
    wallet.release("bet-1", "DEALER_ERROR")
    assert day(wallet, AFTER_MIDNIGHT).stakes == 0
    wallet.hold("bet-2", Decimal(100), "r2")
    assert day(wallet, AFTER_MIDNIGHT).stakes == Decimal(100)
    assert wallet.period_tally("WEEK", AFTER_MIDNIGHT).stakes == Decimal(100)


def test_a_days_stake_limit_is_not_raised_by_yesterdays_stake_voided_after_midnight(
    clock: Clock,
) -> None:
    ledger = p1_funded()
    guard = Protection({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.policy = guard
    limit = ProtectionLimit(kind=LimitKind.STAKE, period=Period.DAY, currency="EUR", amount="60")
    guard.change("p1", limit, "casino/k1")
    ledger.record_event(opened("r1", at=clock.now))
    ledger.execute(debit("t1", "60.00", round_id="r1"))
    clock.now = AFTER_MIDNIGHT
    ledger.record_event(voided(round_id="r1", seq=2, at=clock.now))
    ledger.drain_round_book()
    assert ledger.balance("p1", "EUR").held == 0
    ledger.record_event(opened("r2", at=clock.now))
    ledger.execute(debit("t2", "60.00", round_id="r2"))
    with pytest.raises(LedgerRefused) as refused:
        ledger.execute(debit("t3", "0.01", round_id="r2"))
    assert refused.value.code is Refusal.LIMIT_EXCEEDED


def test_a_refund_after_midnight_of_a_days_stake_comes_off_that_day_while_it_lasts(
    clock: Clock,
) -> None:
    wallet = funded()
    wallet.hold("bet-1", Decimal(100), "r1")
    clock.now = BEFORE_MIDNIGHT + timedelta(seconds=5)
    wallet.release("bet-1", "DEALER_ERROR")
    assert day(wallet, clock.now) == Tally(staked=Decimal(100), refunded=Decimal(100))


def test_a_win_after_midnight_counts_on_the_day_of_its_stake(clock: Clock) -> None:
    wallet = funded()
    wallet.hold("bet-1", Decimal(10), "r1")
    clock.now = AFTER_MIDNIGHT
    wallet.capture("bet-1")
    wallet.credit_win("bet-1", Decimal(360))
    assert day(wallet, AFTER_MIDNIGHT).loss == 0, "yesterday's win is no credit for today"
    wallet.hold("bet-2", Decimal(10), "r2")
    assert day(wallet, AFTER_MIDNIGHT).loss == Decimal(10)
    assert wallet.period_tally("MONTH", AFTER_MIDNIGHT).loss == Decimal(-340)


def test_a_settled_bet_refunded_after_midnight_counts_on_the_day_of_its_stake(
    clock: Clock,
) -> None:
    wallet = funded()
    wallet.hold("bet-1", Decimal(10), "r1")
    wallet.capture("bet-1")  # lost
    clock.now = AFTER_MIDNIGHT
    wallet.reverse_settlement("bet-1", Decimal(10), Decimal(0), "ROUND_VOIDED")
    assert day(wallet, AFTER_MIDNIGHT) == Tally()
    assert wallet.period_tally("WEEK", AFTER_MIDNIGHT).loss == 0


def test_a_credit_taken_back_leaves_its_stake_counted_once_and_lost_until_paid_again(
    clock: Clock,
) -> None:
    wallet = funded()
    wallet.hold("bet-1", Decimal(10), "r1")
    wallet.capture("bet-1")
    wallet.credit_win("bet-1", Decimal(36))
    clock.now = BEFORE_MIDNIGHT + timedelta(seconds=5)
    wallet.take_back_win("bet-1", Decimal(10), Decimal(36), "r1", "ROLLBACK")
    assert day(wallet, clock.now) == Tally(staked=Decimal(10))
    clock.now = AFTER_MIDNIGHT
    wallet.capture("bet-1")
    wallet.credit_win("bet-1", Decimal(20))
    assert day(wallet, AFTER_MIDNIGHT) == Tally()
    assert wallet.period_tally("WEEK", AFTER_MIDNIGHT) == Tally(
        staked=Decimal(10), returned=Decimal(20)
    )


def test_the_tallies_are_rebuilt_from_the_stored_events_and_their_timestamps(
    clock: Clock,
) -> None:
    wallet = funded()
    wallet.hold("bet-1", Decimal(100), "r1")
    wallet.hold("bet-2", Decimal(10), "r1")
    clock.now = AFTER_MIDNIGHT
    wallet.release("bet-1", "DEALER_ERROR")
    wallet.capture("bet-2")
    wallet.credit_win("bet-2", Decimal(20))
    wallet.hold("bet-3", Decimal(5), "r2")
    rebuilt = None
    for stored in wallet.collect_events():
        rebuilt = stored.mutate(rebuilt)
    assert isinstance(rebuilt, Wallet)
    for period in ("DAY", "WEEK", "MONTH"):
        assert rebuilt.period_tally(period, AFTER_MIDNIGHT) == wallet.period_tally(
            period, AFTER_MIDNIGHT
        )
    assert day(rebuilt, AFTER_MIDNIGHT) == Tally(staked=Decimal(5))


def test_a_wallet_keeps_the_stake_times_of_its_open_holds_and_last_settled_bets_only(
    clock: Clock,
) -> None:
    wallet = funded()
    for n in range(3 * SETTLED_STAKES_KEPT):
        wallet.hold(f"bet-{n}", Decimal(1), "r1")
        wallet.capture(f"bet-{n}")
    wallet.hold("open", Decimal(1), "r1")
    wallet.hold("voided", Decimal(1), "r1")
    wallet.release("voided", "VOID")
    assert list(wallet.hold_times) == ["open"]
    assert len(wallet.settled_times) == SETTLED_STAKES_KEPT
    assert f"bet-{3 * SETTLED_STAKES_KEPT - 1}" in wallet.settled_times


def test_a_wallet_snapshotted_before_stake_times_were_kept_counts_as_it_did(
    clock: Clock,
) -> None:
    wallet = funded()
    wallet.hold("bet-1", Decimal(10), "r1")
    del wallet.__dict__["hold_times"], wallet.__dict__["settled_times"]
    wallet.release("bet-1", "VOID")  # a hold of no known time: counted as it happens
    assert day(wallet, BEFORE_MIDNIGHT) == Tally(staked=Decimal(10), refunded=Decimal(10))
