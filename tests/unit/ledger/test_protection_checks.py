"""The checks before every hold, decided from the protection log's events and the wallet:
no socket, the real aggregates and the real state builder."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from contracts.player import BetAccepted
from contracts.player import EffectiveLimits
from contracts.player import LimitsUpdate
from contracts.player import MarketLimits
from contracts.protection import LimitKind
from contracts.protection import Period
from contracts.protection import ProfileRule
from contracts.protection import ProtectionLimit
from contracts.protection import SelfExclusion
from contracts.protection import TimeOut
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Selection
from services.ledger.domain import CASHIER
from services.ledger.domain import Wallet
from services.ledger.errors import LedgerRefused
from services.ledger.protection import Baseline
from services.ledger.protection import GuardState
from services.ledger.protection import LimitBook
from services.ledger.protection import PlayerGuard
from services.ledger.protection import Protection
from services.ledger.tally import Tally
from services.ledger.tally import period_key

NOW = datetime.now(UTC)


def debit(amount: str, *, market: str = "roulette_straight", profile: str = "") -> Debit:
    return Debit(
        provider="evo",
        tx_id=f"tx-{amount}",
        player="ann",
        currency="EUR",
        amount=Decimal(amount),
        round_id="R-1",
        table="T1",
        selections=(Selection(market=market, value="17"),),
        limits_profile=profile,
    )


class Log:
    """A protection log in memory: events as the application writes them, applied in order."""

    def __init__(self, baseline: Baseline | None = None) -> None:
        self.state = GuardState(baseline or Baseline())
        self.position = 0
        self.guard: PlayerGuard | None = None

    def _apply(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                self.position += 1
                self.state.apply(self.position, event)

    def change(self, change: Any) -> None:
        guard = self.guard or PlayerGuard(player="ann")
        self.guard = guard
        guard.record(change=msgspec.json.encode(change).decode(), operator="casino/k1")
        self._apply(guard)

    def limits(self, update: LimitsUpdate) -> None:
        book = LimitBook()
        book.set_limits(update=msgspec.json.encode(update).decode(), operator="casino/k1")
        self._apply(book)


def checker(log: Log) -> Protection:
    guard = Protection.__new__(Protection)  # the checks only: no store
    guard.state = log.state
    return guard


def wallet_with(deposit: str = "1000") -> Wallet:
    wallet = Wallet(player="ann", currency="EUR")
    wallet.deposit("dep-1", Decimal(deposit), CASHIER)
    return wallet


def refusal(guard: Protection, cmd: Debit, wallet: Wallet) -> Refusal | None:
    try:
        guard.check_bet(cmd, wallet, "round-key", cmd.amount)
    except LedgerRefused as refused:
        return refused.code
    return None


def test_a_self_exclusion_and_a_time_out_refuse_every_bet_until_lifted_or_over() -> None:
    log = Log()
    guard, wallet = checker(log), wallet_with()
    assert refusal(guard, debit("5"), wallet) is None
    log.change(SelfExclusion(until=NOW + timedelta(days=1)))
    assert refusal(guard, debit("5"), wallet) is Refusal.SELF_EXCLUDED
    log.change(SelfExclusion(until=NOW - timedelta(seconds=1)))
    assert refusal(guard, debit("5"), wallet) is None, "an exclusion that is over lets bets in"
    log.change(TimeOut(minutes=30))
    assert refusal(guard, debit("5"), wallet) is Refusal.SELF_EXCLUDED
    history = log.state.players["ann"].records
    assert [r.log_position for r in history] == [2, 3, 4] and history[0].operator == "casino/k1"


def test_the_most_specific_limits_update_wins_and_bounds_each_market() -> None:
    log = Log(Baseline(updates=(_update("", "", EffectiveLimits(max_bet=Decimal(1000))),)))
    log.limits(_update("evo", "", EffectiveLimits(max_bet=Decimal(100))))
    log.limits(
        _update(
            "evo",
            "T1",
            EffectiveLimits(
                min_bet=Decimal(2),
                max_bet=Decimal(50),
                bet_types={"roulette_straight": MarketLimits(max=Decimal(10))},
            ),
        )
    )
    guard, wallet = checker(log), wallet_with()
    assert log.state.limits_for("evo", "T2", "EUR", "DEFAULT").max_bet == Decimal(100)
    assert log.state.limits_for("hub88", "T1", "EUR", "DEFAULT").max_bet == Decimal(1000)
    assert refusal(guard, debit("1"), wallet) is Refusal.STAKE_OUT_OF_LIMITS
    assert refusal(guard, debit("11"), wallet) is Refusal.STAKE_OUT_OF_LIMITS
    assert refusal(guard, debit("11", market="red"), wallet) is None
    assert refusal(guard, debit("51", market="red"), wallet) is Refusal.STAKE_OUT_OF_LIMITS
    assert refusal(guard, debit("51", market="red", profile="VIP_A"), wallet) is None


def test_a_debit_naming_no_bet_type_must_fit_one_of_its_known_tables_bet_types() -> None:
    log = Log()
    log.state.table_limits = lambda provider, table, currency: (
        {
            "roulette_straight": MarketLimits(min=Decimal("0.10"), max=Decimal(100)),
            "red": MarketLimits(min=Decimal(1), max=Decimal(5000)),
        }
        if (provider, table) == ("evo", "T1")
        else None
    )
    guard, wallet = checker(log), wallet_with("10000")

    def untyped(amount: str, table: str = "T1") -> Debit:
        return msgspec.structs.replace(debit(amount), selections=(), table=table)

    assert refusal(guard, untyped("0.10"), wallet) is None, "the straight's minimum"
    assert refusal(guard, untyped("4000"), wallet) is None, "red takes it"
    assert refusal(guard, untyped("0.05"), wallet) is Refusal.STAKE_OUT_OF_LIMITS
    assert refusal(guard, untyped("5001"), wallet) is Refusal.STAKE_OUT_OF_LIMITS
    assert refusal(guard, untyped("5001", table="T9"), wallet) is None, "no limits known there"
    assert refusal(guard, untyped("5001", table=""), wallet) is None, "no table named"
    log.limits(
        _update("evo", "", EffectiveLimits(bet_types={"red": MarketLimits(max=Decimal(200))}))
    )
    assert refusal(guard, untyped("300"), wallet) is Refusal.STAKE_OUT_OF_LIMITS, "the stricter"


def test_a_rounds_maximum_counts_the_players_open_stakes_in_that_round() -> None:
    log = Log()
    log.limits(_update("evo", "", EffectiveLimits(max_round=Decimal(30))))
    guard, wallet = checker(log), wallet_with()
    wallet.hold("bet-1", Decimal(25), "round-key")
    assert refusal(guard, debit("5"), wallet) is None
    assert refusal(guard, debit("6"), wallet) is Refusal.LIMIT_EXCEEDED


def test_loss_counts_stakes_less_wins_and_refunds_in_the_period() -> None:
    log = Log()
    log.change(ProtectionLimit(kind=LimitKind.LOSS, period=Period.DAY, currency="EUR", amount="20"))
    guard, wallet = checker(log), wallet_with()
    wallet.hold("bet-1", Decimal(15), "r1")
    wallet.capture("bet-1")
    wallet.hold("bet-2", Decimal(5), "r1")
    assert wallet.period_tally("DAY", NOW).loss == Decimal(20)
    assert refusal(guard, debit("1"), wallet) is Refusal.LIMIT_EXCEEDED
    wallet.release("bet-2", "VOID")  # a refund comes back off the loss
    wallet.credit_win("bet-1", Decimal(4))
    assert wallet.period_tally("DAY", NOW).loss == Decimal(11)
    assert refusal(guard, debit("9"), wallet) is None
    assert refusal(guard, debit("10"), wallet) is Refusal.LIMIT_EXCEEDED
    tomorrow = NOW + timedelta(days=1)
    assert wallet.period_tally("DAY", tomorrow).loss == 0, "a new day starts at zero"


def test_the_deposit_limit_counts_cashier_deposits_only() -> None:
    log = Log()
    log.change(
        ProtectionLimit(kind=LimitKind.DEPOSIT, period=Period.MONTH, currency="EUR", amount="100")
    )
    guard, wallet = checker(log), wallet_with("90")
    wallet.deposit("bank-1", Decimal(500), "provider:evo")
    with pytest.raises(LedgerRefused) as refused:
        guard.check_deposit("ann", "EUR", wallet, Decimal(11))
    assert refused.value.code is Refusal.LIMIT_EXCEEDED
    guard.check_deposit("ann", "EUR", wallet, Decimal(10))


def test_the_tallies_are_rebuilt_from_the_wallets_events_with_their_timestamps() -> None:
    wallet = wallet_with()
    wallet.hold("bet-1", Decimal(7), "r1")
    events = wallet.collect_events()
    rebuilt = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Wallet)
    assert rebuilt.period_tally("WEEK", NOW).staked == Decimal(7)
    assert rebuilt.tallies["MONTH"]["key"] == period_key("MONTH", events[-1].timestamp)


def test_the_first_matching_rule_says_which_profiles_a_player_may_use() -> None:
    state = GuardState(
        Baseline(
            rules=(
                ProfileRule(country="DE", profiles=("DEFAULT",)),
                ProfileRule(kyc_status="VERIFIED", profiles=("DEFAULT", "VIP_A")),
            )
        )
    )
    assert state.allowed_profiles("DE", "EUR", "VERIFIED") == ("DEFAULT",)
    assert state.allowed_profiles("MT", "EUR", "VERIFIED") == ("DEFAULT", "VIP_A")
    assert state.allowed_profiles("MT", "EUR", "PENDING") is None


def test_v1_bodies_written_before_the_limits_grew_still_decode() -> None:
    accepted = msgspec.json.decode(
        b'{"type":"bet.accepted","idempotencyKey":"k","betId":"b","roundId":"R",'
        b'"balanceHold":"-5.00","available":"1.00","effectiveLimits":{"profile":"VIP_A",'
        b'"minBet":null,"maxBet":"5000.00","maxRound":null},"serverTime":"2025-10-17T18:45:03Z"}',
        type=BetAccepted,
    )
    assert accepted.effective_limits.bet_types == {}
    update = msgspec.json.decode(
        b'{"type":"limits.update","provider":"evolution","limits":{"profile":"VIP_A"},'
        b'"effectiveAt":"2025-10-17T18:45:03Z","table":"Table23","currency":"EUR"}',
        type=LimitsUpdate,
    )
    assert update.log_position == 0


def _update(provider: str, table: str, limits: EffectiveLimits) -> LimitsUpdate:
    return LimitsUpdate(
        provider=provider, table=table, currency="EUR", limits=limits, effective_at=NOW
    )


def test_a_self_excluded_player_cannot_deposit_but_a_timed_out_one_can() -> None:
    log = Log()
    guard, wallet = checker(log), wallet_with()
    log.change(TimeOut(minutes=60))
    guard.check_deposit("ann", "EUR", wallet, Decimal(10))
    log.change(SelfExclusion())
    with pytest.raises(LedgerRefused) as refused:
        guard.check_deposit("ann", "EUR", wallet, Decimal(10))
    assert refused.value.code is Refusal.SELF_EXCLUDED
    assert "for good" in refused.value.message


def test_a_limit_changed_while_a_bet_is_checked_leaves_the_check_whole() -> None:
    """The follower thread applies a change while a bet's check goes through the player's
    limits: the check reads the limits as they were when it began, and the next bet meets
    the new one (it never fails half-way with `dictionary changed size`, a 500)."""
    log = Log()
    log.change(
        ProtectionLimit(kind=LimitKind.STAKE, period=Period.DAY, currency="EUR", amount="100")
    )
    log.change(
        ProtectionLimit(kind=LimitKind.LOSS, period=Period.DAY, currency="EUR", amount="100")
    )
    new_limit = ProtectionLimit(
        kind=LimitKind.STAKE, period=Period.WEEK, currency="EUR", amount="5"
    )
    guard = checker(log)

    class Followed(Wallet):
        """A wallet whose first tally read lets the follower apply `new_limit`."""

        def period_tally(self, period: str, now: datetime) -> Tally:
            if log.position < 4:
                log.change(new_limit)
            return super().period_tally(period, now)

    wallet = Followed(player="ann", currency="EUR")
    wallet.deposit("dep-1", Decimal(1000), CASHIER)
    assert refusal(guard, debit("10"), wallet) is None, "judged on the limits it began with"
    assert log.position == 4
    assert refusal(guard, debit("10"), wallet) is Refusal.LIMIT_EXCEEDED
    log.change(ProtectionLimit(kind=LimitKind.STAKE, period=Period.WEEK, currency="EUR"))
    assert log.position == 5
    assert refusal(guard, debit("10"), wallet) is None, "the limit removed"


def test_a_limits_update_is_answered_with_itself_when_another_lands_right_after_it() -> None:
    """Two operators update the same profile at once: each answer is the update its caller
    sent, at its own log position, though the state the writer caught up with after its
    write already holds the other's."""
    theirs = _update("evo", "", EffectiveLimits(max_bet=Decimal(20)))

    class Raced(Protection):
        """A protection log where another bridge's write lands just after this one's."""

        others: list[LimitsUpdate]

        def catch_up(self) -> int:
            while self.others:
                Protection.update_limits(self, self.others.pop(), "casino/k2")
            return super().catch_up()

    guard = Raced({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    guard.others = [theirs]
    mine = _update("evo", "", EffectiveLimits(max_bet=Decimal(10)))
    answered = guard.update_limits(mine, "casino/k1")
    assert answered.limits == mine.limits and answered.log_position == 2
    in_force = guard.limits_state().updates
    assert [(u.limits.max_bet, u.log_position) for u in in_force] == [(Decimal(20), 3)]
