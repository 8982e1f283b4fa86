"""The ledger against a plain dict model: invariants I1-I5 under any order of commands.

A Hypothesis state machine drives the application and the model side by side: deposits,
withdrawals, debits, credits, rollbacks (before and after their transaction), betting
closing, voids, exact and conflicting repeats, and pairs of commands raced in two threads
(duplicates, and bets racing the close of their round). After every step:

- I1: per currency the postings sum to zero, and each player's postings equal the wallet;
- I2: no wallet has less than zero available, and its holds are the model's;
- I3: (in the repeat rules) a repeat replays the original reply and moves nothing;
- I4: no hold is captured or released twice, no bet settled twice (unless a rolled-back
  credit reopened it) or refunded twice;
- I5: every bet the log orders after its round's BettingClosed, once booked, is refunded.

200 examples by default; `LIVEBRIDGE_SOAK=1` (make soak) runs thousands.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from contracts.events import BettingClosed, RoundVoided
from contracts.wallet import AnyWalletCommand, Credit, Debit, Refusal, Rollback, WalletReply
from services.ledger.domain import Bet, Wallet
from services.ledger.errors import LedgerRefused
from services.ledger.rounds import Round, decode_provider_event
from tests.unit.ledger.support import POPO, RacingLedger, closed, credit, debit, rollback, voided

D = Decimal
PLAYERS = ("a", "b")
ROUNDS = ("r1", "r2", "r3")
SOAK = os.environ.get("LIVEBRIDGE_SOAK") == "1"

amounts = st.integers(1, 2500).map(lambda cents: D(cents).scaleb(-2))
picks = st.integers(0, 1_000_000)
"""Which of the model's known ids a rule uses: drawn blind, so that what Hypothesis draws
never depends on how a race between two threads came out (it must replay identically)."""
deposits = st.integers(1, 10000).map(lambda cents: D(cents).scaleb(-2))


def chosen(keys: Iterable[str], pick: int) -> str:
    ordered = sorted(keys)
    return ordered[pick % len(ordered)]


@dataclass
class ModelBet:
    player: str
    round_id: str
    stake: Decimal
    position: int
    status: str = "OPEN"
    payout: Decimal = field(default_factory=Decimal)
    cause: str = ""
    settled_by: str = ""


@dataclass
class Done:
    """A provider transaction the ledger accepted, with its original reply."""

    command: AnyWalletCommand
    reply: WalletReply
    bets: list[str] = field(default_factory=list)
    rolled_back: bool = False


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = RacingLedger(env=POPO)
        self.balance = {p: D(0) for p in PLAYERS}
        self.holds: dict[str, dict[str, Decimal]] = {p: {} for p in PLAYERS}
        self.bets: dict[str, ModelBet] = {}
        self.done: dict[str, Done] = {}
        self.tombstones: dict[str, str] = {}
        self.closed: set[str] = set()
        self.unrecoverable: dict[str, set[str]] = {}
        """Per round, the bets a void could not refund (flagged VOID_UNRECOVERABLE)."""
        self.seq = Counter[str]()
        self.ids = 0
        for player in PLAYERS:
            self.ledger.open_wallet(player, "EUR")
            self.ledger.deposit(player, "EUR", D(100), tx_id=f"start-{player}")
            self.balance[player] = D(100)

    def fresh(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def available(self, player: str) -> Decimal:
        return self.balance[player] - sum(self.holds[player].values(), D(0))

    def expect(self, code: Refusal | tuple[Refusal, ...], call: Callable[[], object]) -> None:
        with pytest.raises(LedgerRefused) as caught:
            call()
        assert caught.value.code in (code if isinstance(code, tuple) else (code,)), caught.value

    def next_seq(self, round_id: str) -> int:
        self.seq[round_id] += 1
        return self.seq[round_id]

    # ---- the cashier ----------------------------------------------------------------

    @rule(player=st.sampled_from(PLAYERS), amount=deposits)
    def deposit(self, player: str, amount: Decimal) -> None:
        after = self.ledger.deposit(player, "EUR", amount, tx_id=self.fresh("c"))
        self.balance[player] += amount
        assert after.balance == self.balance[player]

    @rule(player=st.sampled_from(PLAYERS), amount=amounts)
    def withdraw(self, player: str, amount: Decimal) -> None:
        tx_id = self.fresh("c")
        if amount > self.available(player):
            self.expect(
                Refusal.INSUFFICIENT_FUNDS,
                lambda: self.ledger.withdraw(player, "EUR", amount, tx_id=tx_id),
            )
            return
        self.ledger.withdraw(player, "EUR", amount, tx_id=tx_id)
        self.balance[player] -= amount

    @rule(player=st.sampled_from(PLAYERS))
    def cash_out(self, player: str) -> None:
        """Everything available leaves: a win paid before a void is then spent."""
        amount = self.available(player)
        if amount > 0:
            self.ledger.withdraw(player, "EUR", amount, tx_id=self.fresh("c"))
            self.balance[player] -= amount

    # ---- provider transactions ---------------------------------------------------------

    def apply_debit(self, command: Debit, reply: WalletReply) -> None:
        if reply.replayed:
            return
        self.done[command.tx_id] = Done(command, reply, [command.tx_id])
        if reply.absorbed:
            return
        self.holds[command.player][command.tx_id] = command.amount
        self.bets[command.tx_id] = ModelBet(
            command.player, command.round_id, command.amount, reply.log_position
        )

    @rule(player=st.sampled_from(PLAYERS), round_id=st.sampled_from(ROUNDS), amount=amounts)
    def place_bet(self, player: str, round_id: str, amount: Decimal) -> None:
        command = debit(self.fresh("t"), str(amount), player=player, round_id=round_id)
        if round_id in self.closed:
            self.expect(Refusal.BETTING_CLOSED, lambda: self.ledger.execute(command))
        elif amount > self.available(player):
            self.expect(Refusal.INSUFFICIENT_FUNDS, lambda: self.ledger.execute(command))
        else:
            self.apply_debit(command, self.ledger.execute(command))

    @rule(pick=picks, amount=amounts)
    def late_original_arrives(self, pick: int, amount: Decimal) -> None:
        if not self.tombstones:
            return
        tx_id = chosen(self.tombstones, pick)
        command = debit(tx_id, str(amount), player="a")
        mode = self.tombstones.pop(tx_id)
        if mode == "refuse":
            self.expect(Refusal.TRANSACTION_ROLLED_BACK, lambda: self.ledger.execute(command))
            self.tombstones[tx_id] = mode
            return
        reply = self.ledger.execute(command)
        assert reply.absorbed and not reply.replayed
        self.apply_debit(command, reply)

    @rule(pick=picks, amount=st.one_of(st.just(D(0)), amounts))
    def settle_bet(self, pick: int, amount: Decimal) -> None:
        if not self.bets:
            return
        bet_tx = chosen(self.bets, pick)
        bet = self.bets[bet_tx]
        command = credit(
            self.fresh("w"), str(amount), bet_id=bet_tx, player=bet.player, round_id=bet.round_id
        )
        if bet.status != "OPEN":
            late = bet.cause == "LATE_BET"
            code = Refusal.BETTING_CLOSED if late else Refusal.BET_ALREADY_SETTLED
            self.expect(code, lambda: self.ledger.execute(command))
            return
        reply = self.ledger.execute(command)
        del self.holds[bet.player][bet_tx]
        self.balance[bet.player] += amount - bet.stake
        bet.status, bet.payout, bet.settled_by = "SETTLED", amount, command.tx_id
        assert reply.balance == self.balance[bet.player]
        self.done[command.tx_id] = Done(command, reply, [bet_tx])

    @rule(pick=picks, fresh_ref=st.booleans(), mode=st.sampled_from(["refuse", "absorb"]))
    def roll_back(self, pick: int, fresh_ref: bool, mode: str) -> None:
        refs = sorted(tx for tx, d in self.done.items() if not isinstance(d.command, Rollback))
        if fresh_ref or not refs:
            ref = self.fresh("t")
            player = "a"
        else:
            ref = chosen(refs, pick)
            player = self.done[ref].command.player
        self.roll_back_ref(ref, player, mode)

    def roll_back_ref(self, ref: str, player: str, mode: str = "refuse") -> None:
        command = rollback(self.fresh("rb"), ref, late_original=mode, player=player)
        original = self.done.get(ref)
        if original is None:
            if ref not in self.tombstones:
                self.tombstones[ref] = mode
            self.done[command.tx_id] = Done(command, self.ledger.execute(command))
            return
        changes: list[tuple[ModelBet, str]] = []
        is_credit = isinstance(original.command, Credit)
        if not original.rolled_back and not original.reply.absorbed:
            for key in original.bets:
                bet = self.bets[key]
                if is_credit and (bet.status != "SETTLED" or bet.settled_by != ref):
                    continue  # a rolled-back win undoes that credit only, if it still stands
                if bet.status == "SETTLED":
                    # Undoing a credit holds the stake again: the whole payout must be there.
                    short = bet.payout if is_credit else bet.payout - bet.stake
                    if short > self.available(player):
                        self.expect(
                            Refusal.INSUFFICIENT_FUNDS, lambda: self.ledger.execute(command)
                        )
                        return
                if bet.status != "REFUNDED":
                    changes.append((bet, key))
        reply = self.ledger.execute(command)
        for bet, key in changes:
            if is_credit:
                self.reopen(bet, key)
            else:
                self.refund(bet, key)
        original.rolled_back = True
        assert reply.balance == self.balance[player]
        assert reply.absorbed == (not changes)
        self.done[command.tx_id] = Done(command, reply)

    @rule(pick=picks, first=amounts, second=st.one_of(st.just(D(0)), amounts))
    def a_credit_rolled_back_then_corrected(
        self, pick: int, first: Decimal, second: Decimal
    ) -> None:
        """A provider pays a bet, rolls that credit back, then pays the corrected amount."""
        open_bets = [key for key, b in self.bets.items() if b.status == "OPEN"]
        if not open_bets:
            return
        key = chosen(open_bets, pick)
        bet = self.bets[key]
        self.settle_bet(sorted(self.bets).index(key), first)
        self.roll_back_ref(bet.settled_by, bet.player)
        self.settle_bet(sorted(self.bets).index(key), second)

    def reopen(self, bet: ModelBet, key: str) -> None:
        self.balance[bet.player] += bet.stake - bet.payout
        self.holds[bet.player][key] = bet.stake
        bet.status, bet.payout, bet.settled_by = "OPEN", D(0), ""

    def refund(self, bet: ModelBet, key: str, cause: str = "") -> None:
        if bet.status == "OPEN":
            del self.holds[bet.player][key]
        else:
            self.balance[bet.player] += bet.stake - bet.payout
        bet.status, bet.cause = "REFUNDED", cause

    @rule(pick=picks)
    def repeat_a_transaction(self, pick: int) -> None:
        if not self.done:
            return
        done = self.done[chosen(self.done, pick)]
        before = {p: self.ledger.balance(p, "EUR") for p in PLAYERS}
        again = self.ledger.execute(done.command)
        assert again.replayed
        assert (again.tx_ref, again.balance, again.available, again.absorbed) == (
            done.reply.tx_ref,
            done.reply.balance,
            done.reply.available,
            done.reply.absorbed,
        )
        assert before == {p: self.ledger.balance(p, "EUR") for p in PLAYERS}

    @rule(pick=picks)
    def repeat_with_another_payload(self, pick: int) -> None:
        if not self.done:
            return
        done = self.done[chosen(self.done, pick)]
        command = done.command
        changed: AnyWalletCommand
        if isinstance(command, Rollback):
            changed = rollback(command.tx_id, command.ref_tx_id + "x", player=command.player)
        elif isinstance(command, Debit):
            changed = debit(
                command.tx_id, str(command.amount + 1), player=command.player, round_id="r1"
            )
        else:
            assert isinstance(command, Credit)
            changed = credit(
                command.tx_id, str(command.amount + 1), bet_id=command.bet_id, player=command.player
            )
        self.expect(Refusal.DUPLICATE_CONFLICT, lambda: self.ledger.execute(changed))

    # ---- rounds -------------------------------------------------------------------------

    @rule(round_id=st.sampled_from(ROUNDS))
    def close_betting(self, round_id: str) -> None:
        self.ledger.record_event(closed(round_id, seq=self.next_seq(round_id)))
        self.closed.add(round_id)

    @rule(round_id=st.sampled_from(ROUNDS), cause=st.sampled_from(["DISPUTE", "STREAM_FAILURE"]))
    def void_round(self, round_id: str, cause: str) -> None:
        self.ledger.record_event(voided(cause, round_id, seq=self.next_seq(round_id)))
        self.closed.add(round_id)
        in_round = sorted(
            ((b.position, key) for key, b in self.bets.items() if b.round_id == round_id)
        )
        for _, key in in_round:
            bet = self.bets[key]
            if bet.status == "OPEN" or (
                bet.status == "SETTLED" and bet.payout - bet.stake <= self.available(bet.player)
            ):
                self.refund(bet, key)
            elif bet.status == "SETTLED":  # its win is spent: it stays, and the round says so
                self.unrecoverable.setdefault(round_id, set()).add(key)
        flags = self.ledger.round_state("evo", round_id).audit_flags
        flagged = {f.split()[2].removeprefix("evo/") for f in flags}
        assert all(f.startswith("VOID_UNRECOVERABLE: bet evo/") for f in flags), flags
        assert flagged == self.unrecoverable.get(round_id, set()), flags

    @rule(pick=picks, win=amounts, cause=st.sampled_from(["DISPUTE", "DEALER_ERROR"]))
    def a_void_after_a_win_was_spent(self, pick: int, win: Decimal, cause: str) -> None:
        """A provider pays a win, the player cashes out, then the round is voided."""
        open_bets = [key for key, b in self.bets.items() if b.status == "OPEN"]
        if not open_bets:
            return
        key = chosen(open_bets, pick)
        bet = self.bets[key]
        self.settle_bet(sorted(self.bets).index(key), bet.stake + win)
        self.cash_out(bet.player)
        self.void_round(bet.round_id, cause)

    # ---- races --------------------------------------------------------------------------

    def race(self, *calls: Callable[[], Any]) -> list[Any]:
        barrier = threading.Barrier(len(calls))
        results: list[Any] = [None] * len(calls)

        def run(i: int, call: Callable[[], Any]) -> None:
            barrier.wait()
            try:
                results[i] = call()
            except LedgerRefused as refused:
                results[i] = refused

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    @rule(
        player=st.sampled_from(PLAYERS),
        round_id=st.sampled_from(ROUNDS),
        first=amounts,
        second=amounts,
        same_tx=st.booleans(),
    )
    def two_debits_at_once(
        self, player: str, round_id: str, first: Decimal, second: Decimal, same_tx: bool
    ) -> None:
        tx_a = self.fresh("t")
        tx_b = tx_a if same_tx else self.fresh("t")
        a = debit(tx_a, str(first), player=player, round_id=round_id)
        b = debit(tx_b, str(first if same_tx else second), player=player, round_id=round_id)
        results = self.race(lambda: self.ledger.execute(a), lambda: self.ledger.execute(b))
        replies = [r for r in results if isinstance(r, WalletReply)]
        for result in results:
            if isinstance(result, LedgerRefused):
                assert result.code in (Refusal.INSUFFICIENT_FUNDS, Refusal.BETTING_CLOSED)
        if same_tx:
            assert sum(not r.replayed for r in replies) <= 1
            if len(replies) == 2:
                assert replies[0].tx_ref == replies[1].tx_ref
        for command, result in zip((a, b), results, strict=True):
            if isinstance(result, WalletReply):
                self.apply_debit(command, result)

    @rule(player=st.sampled_from(PLAYERS), round_id=st.sampled_from(ROUNDS), amount=amounts)
    def a_bet_races_the_close_of_its_round(
        self, player: str, round_id: str, amount: Decimal
    ) -> None:
        command = debit(self.fresh("t"), str(amount), player=player, round_id=round_id)
        event = closed(round_id, seq=self.next_seq(round_id))
        results = self.race(
            lambda: self.ledger.execute(command), lambda: self.ledger.record_event(event)
        )
        self.closed.add(round_id)
        if isinstance(results[0], WalletReply):
            self.apply_debit(command, results[0])
            self.ledger.drain_round_book()
            bet = self.ledger.bet(Bet.create_id(provider="evo", bet_id=command.tx_id))
            if bet.status == "REFUNDED":
                assert bet.cause == "LATE_BET"
                self.refund(self.bets[command.tx_id], command.tx_id, "LATE_BET")
        else:
            assert results[0].code in (Refusal.INSUFFICIENT_FUNDS, Refusal.BETTING_CLOSED)

    @rule(player=st.sampled_from(PLAYERS), round_id=st.sampled_from(ROUNDS), amount=amounts)
    def betting_closes_between_a_bets_read_and_its_write(
        self, player: str, round_id: str, amount: Decimal
    ) -> None:
        command = debit(self.fresh("t"), str(amount), player=player, round_id=round_id)
        self.ledger.lands_during_next_bet = closed(round_id, seq=self.next_seq(round_id))
        refused_as: tuple[Refusal, ...] = ()
        if round_id in self.closed:
            refused_as = (Refusal.BETTING_CLOSED,)
        elif amount > self.available(player):
            # The close lands while the first attempt is refused: the retry may see it first.
            refused_as = (Refusal.INSUFFICIENT_FUNDS, Refusal.BETTING_CLOSED)
        if refused_as:
            self.expect(refused_as, lambda: self.ledger.execute(command))
        else:
            self.apply_debit(command, self.ledger.execute(command))
        self.ledger.lands_during_next_bet = None
        self.closed.add(round_id)
        if not refused_as:
            self.ledger.drain_round_book()
            self.refund(self.bets[command.tx_id], command.tx_id, "LATE_BET")

    # ---- invariants ---------------------------------------------------------------------

    def log(self) -> list[tuple[int, Any]]:
        recorder = self.ledger.recorder
        return [
            (n.id, self.ledger.mapper.to_domain_event(n))
            for n in recorder.select_notifications(1, 1_000_000)
        ]

    @invariant()
    def i1_conservation(self) -> None:
        totals = self.ledger.postings_total("EUR")
        assert sum(totals.values(), D(0)) == 0
        for player in PLAYERS:
            assert totals.get(f"player:{player}", D(0)) == self.balance[player]
            assert self.ledger.balance(player, "EUR").balance == self.balance[player]

    @invariant()
    def i2_no_overdraft(self) -> None:
        for player in PLAYERS:
            actual = self.ledger.balance(player, "EUR")
            assert actual.available >= 0
            assert actual.held == sum(self.holds[player].values(), D(0))
            assert actual.available == self.available(player)

    @invariant()
    def i4_resolve_once(self) -> None:
        """Each hold is captured or released once; each bet settled once while open (again
        only after a rolled-back credit reopened it), each settlement reversed once, each bet
        refunded once."""
        held: dict[str, bool] = {}
        captured = Counter[str]()
        reversed_ = Counter[str]()
        status: dict[Any, str] = {}
        for position, event in self.log():
            where = (position, type(event).__qualname__)
            if isinstance(event, Wallet.StakeHeld):
                assert not held.get(event.bet), where
                held[event.bet] = True
            elif isinstance(event, Wallet.HoldCaptured | Wallet.HoldReleased):
                assert held.get(event.bet), where
                held[event.bet] = False
                captured[event.bet] += isinstance(event, Wallet.HoldCaptured)
            elif isinstance(event, Wallet.SettlementReversed):
                reversed_[event.bet] += 1
                assert not held.get(event.bet) and reversed_[event.bet] <= captured[event.bet]
            elif isinstance(event, Bet.Placed):
                status[event.originator_id] = "OPEN"
            elif isinstance(event, Bet.Settled):
                assert status[event.originator_id] == "OPEN", where
                status[event.originator_id] = "SETTLED"
            elif isinstance(event, Bet.Reopened):
                assert status[event.originator_id] == "SETTLED", where
                status[event.originator_id] = "OPEN"
            elif isinstance(event, Bet.Refunded):
                assert status[event.originator_id] != "REFUNDED", where
                status[event.originator_id] = "REFUNDED"

    @invariant()
    def i5_betting_window(self) -> None:
        closed_at: dict[str, int] = {}
        placed: list[tuple[int, Any]] = []
        for position, event in self.log():
            if isinstance(event, Round.EventRecorded):
                provider_event = decode_provider_event(event.raw)
                if isinstance(provider_event, BettingClosed | RoundVoided):
                    closed_at.setdefault(provider_event.round_id, position)
            elif isinstance(event, Bet.Placed):
                placed.append((position, event))
        booked = self.ledger.load_book_cursor().position
        for position, event in placed:
            close = closed_at.get(event.round_id)
            if close is not None and close < position <= booked:
                bet = self.ledger.bet(event.originator_id)
                assert (bet.status, bet.cause) == ("REFUNDED", "LATE_BET"), event


PROFILE = settings(
    max_examples=200,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_invariants_hold_under_any_sequence_of_commands() -> None:
    LedgerMachine.TestCase.settings = PROFILE
    LedgerMachine.TestCase().runTest()


@pytest.mark.soak
def test_invariants_hold_over_a_long_soak() -> None:
    LedgerMachine.TestCase.settings = settings(
        PROFILE,
        max_examples=2000 if SOAK else 10,
        stateful_step_count=60 if SOAK else 25,
    )
    LedgerMachine.TestCase().runTest()
