"""The ledger against a plain dict model: invariants I1-I5 under any order of commands.

A Hypothesis state machine drives the application and the model side by side: deposits,
withdrawals, debits, credits, rollbacks (before and after their transaction, of debits and
of credits), betting closing, results (a bridge-settled provider's settle every open bet),
voids, exact and conflicting repeats, and pairs of commands raced in two threads
(duplicates, and bets racing the close of their round), over wallets in two currencies.
After every step:

- I1: per currency the postings sum to zero, and each player's postings equal the wallet;
- I2: no wallet has less than zero available, and its holds are the model's;
- I3: (in the repeat rules) a repeat replays the original reply and moves nothing;
- I4: no hold is captured or released twice, no bet settled twice (unless a rolled-back
  credit reopened it) or refunded twice;
- I5: every bet the log orders after its round closed (BettingClosed, a result or a void),
  once booked, is refunded.

200 examples by default; `LIVEBRIDGE_SOAK=1` (make soak) runs thousands.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import invariant
from hypothesis.stateful import rule

from contracts.events import BettingClosed
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Rollback
from contracts.wallet import WalletReply
from services.ledger.domain import Bet
from services.ledger.domain import Wallet
from services.ledger.errors import LedgerRefused
from services.ledger.rounds import Round
from services.ledger.rounds import decode_provider_event
from tests.unit.ledger.support.builders import POPO
from tests.unit.ledger.support.builders import RacingLedger
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import credit
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import rollback
from tests.unit.ledger.support.builders import voided

D = Decimal
PLAYERS = ("a", "b")
CURRENCIES = ("EUR", "USD")
WALLETS = tuple((player, currency) for player in PLAYERS for currency in CURRENCIES)
ROUNDS = ("r1", "r2", "pp-r3", "pp-r4")
"""`pp-` rounds are the bridge-settled provider's (`pp` in POPO): a result settles them."""
NUMBERS = st.sampled_from(["17", "0", "5"])
"""Results: every bet is a straight-up on 17, which pays 36 times its stake."""
SOAK = os.environ.get("LIVEBRIDGE_SOAK") == "1"

amounts = st.integers(1, 2500).map(lambda cents: D(cents).scaleb(-2))
picks = st.integers(0, 1_000_000)
"""Which of the model's known ids a rule uses: drawn blind, so that what Hypothesis draws
never depends on how a race between two threads came out (it must replay identically)."""
deposits = st.integers(1, 10000).map(lambda cents: D(cents).scaleb(-2))


WalletKey = tuple[str, str]


def provider_of(round_id: str) -> str:
    return "pp" if round_id.startswith("pp-") else "evo"


def chosen(keys: Iterable[str], pick: int) -> str:
    ordered = sorted(keys)
    return ordered[pick % len(ordered)]


@dataclass
class ModelBet:
    player: str
    currency: str
    round_id: str
    stake: Decimal
    position: int
    status: str = "OPEN"
    payout: Decimal = field(default_factory=Decimal)
    cause: str = ""
    settled_by: str = ""

    @property
    def wallet(self) -> WalletKey:
        return (self.player, self.currency)

    @property
    def provider(self) -> str:
        return provider_of(self.round_id)


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
        self.balance = {w: D(0) for w in WALLETS}
        self.holds: dict[WalletKey, dict[str, Decimal]] = {w: {} for w in WALLETS}
        self.bets: dict[str, ModelBet] = {}
        self.done: dict[str, Done] = {}
        self.tombstones: dict[str, str] = {}
        self.closed: set[str] = set()
        self.unrecoverable: dict[str, set[str]] = {}
        """Per round, the bets a void could not refund (flagged VOID_UNRECOVERABLE)."""
        self.seq = Counter[str]()
        self.ids = 0
        for player, currency in WALLETS:
            self.ledger.open_wallet(player, currency)
            self.ledger.deposit(player, currency, D(100), tx_id=f"start-{player}-{currency}")
            self.balance[player, currency] = D(100)

    def fresh(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def available(self, wallet: WalletKey) -> Decimal:
        return self.balance[wallet] - sum(self.holds[wallet].values(), D(0))

    def expect(self, code: Refusal | tuple[Refusal, ...], call: Callable[[], object]) -> None:
        with pytest.raises(LedgerRefused) as caught:
            call()
        assert caught.value.code in (code if isinstance(code, tuple) else (code,)), caught.value

    def next_seq(self, round_id: str) -> int:
        self.seq[round_id] += 1
        return self.seq[round_id]

    # ---- the cashier ----------------------------------------------------------------

    @rule(wallet=st.sampled_from(WALLETS), amount=deposits)
    def deposit(self, wallet: WalletKey, amount: Decimal) -> None:
        after = self.ledger.deposit(*wallet, amount, tx_id=self.fresh("c"))
        self.balance[wallet] += amount
        assert after.balance == self.balance[wallet]

    @rule(wallet=st.sampled_from(WALLETS), amount=amounts)
    def withdraw(self, wallet: WalletKey, amount: Decimal) -> None:
        tx_id = self.fresh("c")
        if amount > self.available(wallet):
            self.expect(
                Refusal.INSUFFICIENT_FUNDS,
                lambda: self.ledger.withdraw(*wallet, amount, tx_id=tx_id),
            )
            return
        self.ledger.withdraw(*wallet, amount, tx_id=tx_id)
        self.balance[wallet] -= amount

    @rule(wallet=st.sampled_from(WALLETS))
    def cash_out(self, wallet: WalletKey) -> None:
        """Everything available leaves: a win paid before a void is then spent."""
        amount = self.available(wallet)
        if amount > 0:
            self.ledger.withdraw(*wallet, amount, tx_id=self.fresh("c"))
            self.balance[wallet] -= amount

    # ---- provider transactions ---------------------------------------------------------

    def apply_debit(self, command: Debit, reply: WalletReply) -> None:
        if reply.replayed:
            return
        self.done[command.tx_id] = Done(command, reply, [command.tx_id])
        if reply.absorbed:
            return
        self.holds[command.player, command.currency][command.tx_id] = command.amount
        self.bets[command.tx_id] = ModelBet(
            command.player, command.currency, command.round_id, command.amount, reply.log_position
        )

    def bet_on(self, tx_id: str, wallet: WalletKey, round_id: str, amount: Decimal) -> Debit:
        player, currency = wallet
        return debit(
            tx_id,
            str(amount),
            player=player,
            currency=currency,
            round_id=round_id,
            provider=provider_of(round_id),
        )

    @rule(wallet=st.sampled_from(WALLETS), round_id=st.sampled_from(ROUNDS), amount=amounts)
    def place_bet(self, wallet: WalletKey, round_id: str, amount: Decimal) -> None:
        command = self.bet_on(self.fresh("t"), wallet, round_id, amount)
        if round_id in self.closed:
            self.expect(Refusal.BETTING_CLOSED, lambda: self.ledger.execute(command))
        elif amount > self.available(wallet):
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
            self.fresh("w"),
            str(amount),
            bet_id=bet_tx,
            player=bet.player,
            currency=bet.currency,
            round_id=bet.round_id,
            provider=bet.provider,
        )
        if bet.status != "OPEN":
            code = Refusal.BET_ALREADY_SETTLED
            if bet.status == "REFUNDED":
                late = bet.cause == "LATE_BET"
                code = Refusal.BETTING_CLOSED if late else Refusal.BET_REFUNDED
            self.expect(code, lambda: self.ledger.execute(command))
            return
        reply = self.ledger.execute(command)
        self.settle(bet, bet_tx, amount, command.tx_id)
        assert reply.balance == self.balance[bet.wallet]
        self.done[command.tx_id] = Done(command, reply, [bet_tx])

    def settle(self, bet: ModelBet, key: str, payout: Decimal, by: str) -> None:
        del self.holds[bet.wallet][key]
        self.balance[bet.wallet] += payout - bet.stake
        bet.status, bet.payout, bet.settled_by = "SETTLED", payout, by

    @rule(pick=picks, fresh_ref=st.booleans(), mode=st.sampled_from(["refuse", "absorb"]))
    def roll_back(self, pick: int, fresh_ref: bool, mode: str) -> None:
        refs = sorted(tx for tx, d in self.done.items() if not isinstance(d.command, Rollback))
        ref = self.fresh("t") if fresh_ref or not refs else chosen(refs, pick)
        self.roll_back_ref(ref, mode)

    def roll_back_ref(self, ref: str, mode: str = "refuse") -> None:
        original = self.done.get(ref)
        if original is None:  # a rollback before its original, which player a may send later
            command = rollback(self.fresh("rb"), ref, late_original=mode, player="a")
        else:
            command = rollback(
                self.fresh("rb"),
                ref,
                late_original=mode,
                player=original.command.player,
                currency=original.command.currency,
                provider=original.command.provider,
            )
        wallet = (command.player, command.currency)
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
                    if short > self.available(wallet):
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
        assert reply.balance == self.balance[wallet]
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
        self.roll_back_ref(bet.settled_by)
        self.settle_bet(sorted(self.bets).index(key), second)

    def reopen(self, bet: ModelBet, key: str) -> None:
        self.balance[bet.wallet] += bet.stake - bet.payout
        self.holds[bet.wallet][key] = bet.stake
        bet.status, bet.payout, bet.settled_by = "OPEN", D(0), ""

    def refund(self, bet: ModelBet, key: str, cause: str = "") -> None:
        if bet.status == "OPEN":
            del self.holds[bet.wallet][key]
        else:
            self.balance[bet.wallet] += bet.stake - bet.payout
        bet.status, bet.cause = "REFUNDED", cause

    @rule(pick=picks)
    def repeat_a_transaction(self, pick: int) -> None:
        if not self.done:
            return
        done = self.done[chosen(self.done, pick)]
        before = {w: self.ledger.balance(*w) for w in WALLETS}
        again = self.ledger.execute(done.command)
        assert again.replayed
        assert (again.tx_ref, again.balance, again.available, again.absorbed) == (
            done.reply.tx_ref,
            done.reply.balance,
            done.reply.available,
            done.reply.absorbed,
        )
        assert before == {w: self.ledger.balance(*w) for w in WALLETS}

    @rule(pick=picks)
    def repeat_with_another_payload(self, pick: int) -> None:
        if not self.done:
            return
        done = self.done[chosen(self.done, pick)]
        command = done.command
        changed: AnyWalletCommand
        if isinstance(command, Rollback):
            changed = msgspec.structs.replace(command, ref_tx_id=command.ref_tx_id + "x")
        else:
            changed = msgspec.structs.replace(command, amount=command.amount + 1)
        self.expect(Refusal.DUPLICATE_CONFLICT, lambda: self.ledger.execute(changed))

    # ---- rounds -------------------------------------------------------------------------

    def closing(self, round_id: str) -> BettingClosed:
        return closed(round_id, provider=provider_of(round_id), seq=self.next_seq(round_id))

    @rule(round_id=st.sampled_from(ROUNDS))
    def close_betting(self, round_id: str) -> None:
        self.ledger.record_event(self.closing(round_id))
        self.closed.add(round_id)

    @rule(round_id=st.sampled_from(ROUNDS), number=NUMBERS)
    def declare_result(self, round_id: str, number: str) -> None:
        """A result closes betting; the bridge-settled provider's rounds settle by it."""
        provider = provider_of(round_id)
        seq = self.next_seq(round_id)
        self.ledger.record_event(declared({"number": number}, round_id, provider, seq))
        self.closed.add(round_id)
        if provider != "pp":
            return
        for key, bet in sorted(self.bets.items()):
            if bet.round_id == round_id and bet.status == "OPEN":
                self.settle(bet, key, bet.stake * 36 if number == "17" else D(0), "")
        state = self.ledger.round_state(provider, round_id)
        assert all(b.status != "OPEN" for b in state.bets)

    @rule(
        bettors=st.lists(st.tuples(st.sampled_from(WALLETS), amounts), min_size=1, max_size=4),
        number=NUMBERS,
    )
    def a_bridge_settled_round_plays_out(
        self, bettors: list[tuple[WalletKey, Decimal]], number: str
    ) -> None:
        """A new round of the bridge-settled provider: bets in both currencies, a result."""
        round_id = self.fresh("pp-r")
        for wallet, amount in bettors:
            self.place_bet(wallet, round_id, amount)
        self.declare_result(round_id, number)

    @rule(round_id=st.sampled_from(ROUNDS), cause=st.sampled_from(["DISPUTE", "STREAM_FAILURE"]))
    def void_round(self, round_id: str, cause: str) -> None:
        provider = provider_of(round_id)
        self.ledger.record_event(voided(cause, round_id, provider, seq=self.next_seq(round_id)))
        self.closed.add(round_id)
        in_round = sorted(
            ((b.position, key) for key, b in self.bets.items() if b.round_id == round_id)
        )
        for _, key in in_round:
            bet = self.bets[key]
            if bet.status == "OPEN" or (
                bet.status == "SETTLED" and bet.payout - bet.stake <= self.available(bet.wallet)
            ):
                self.refund(bet, key)
            elif bet.status == "SETTLED":  # its win is spent: it stays, and the round says so
                self.unrecoverable.setdefault(round_id, set()).add(key)
        flags = self.ledger.round_state(provider, round_id).audit_flags
        flagged = {f.split()[2].removeprefix(f"{provider}/") for f in flags}
        assert all(f.startswith(f"VOID_UNRECOVERABLE: bet {provider}/") for f in flags), flags
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
        self.cash_out(bet.wallet)
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
        wallet=st.sampled_from(WALLETS),
        round_id=st.sampled_from(ROUNDS),
        first=amounts,
        second=amounts,
        same_tx=st.booleans(),
    )
    def two_debits_at_once(
        self, wallet: WalletKey, round_id: str, first: Decimal, second: Decimal, same_tx: bool
    ) -> None:
        tx_a = self.fresh("t")
        tx_b = tx_a if same_tx else self.fresh("t")
        a = self.bet_on(tx_a, wallet, round_id, first)
        b = self.bet_on(tx_b, wallet, round_id, first if same_tx else second)
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

    @rule(wallet=st.sampled_from(WALLETS), round_id=st.sampled_from(ROUNDS), amount=amounts)
    def a_bet_races_the_close_of_its_round(
        self, wallet: WalletKey, round_id: str, amount: Decimal
    ) -> None:
        command = self.bet_on(self.fresh("t"), wallet, round_id, amount)
        event = self.closing(round_id)
        results = self.race(
            lambda: self.ledger.execute(command), lambda: self.ledger.record_event(event)
        )
        self.closed.add(round_id)
        if isinstance(results[0], WalletReply):
            self.apply_debit(command, results[0])
            self.ledger.drain_round_book()
            bet = self.ledger.bet(Bet.create_id(provider=command.provider, bet_id=command.tx_id))
            if bet.status == "REFUNDED":
                assert bet.cause == "LATE_BET"
                self.refund(self.bets[command.tx_id], command.tx_id, "LATE_BET")
        else:
            assert results[0].code in (Refusal.INSUFFICIENT_FUNDS, Refusal.BETTING_CLOSED)

    @rule(wallet=st.sampled_from(WALLETS), round_id=st.sampled_from(ROUNDS), amount=amounts)
    def betting_closes_between_a_bets_read_and_its_write(
        self, wallet: WalletKey, round_id: str, amount: Decimal
    ) -> None:
        command = self.bet_on(self.fresh("t"), wallet, round_id, amount)
        self.ledger.lands_during_next_bet = self.closing(round_id)
        refused_as: tuple[Refusal, ...] = ()
        if round_id in self.closed:
            refused_as = (Refusal.BETTING_CLOSED,)
        elif amount > self.available(wallet):
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
        for currency in CURRENCIES:
            totals = self.ledger.postings_total(currency)
            assert sum(totals.values(), D(0)) == 0, currency
            for player in PLAYERS:
                wallet = (player, currency)
                assert totals.get(f"player:{player}", D(0)) == self.balance[wallet], wallet
                assert self.ledger.balance(*wallet).balance == self.balance[wallet], wallet

    @invariant()
    def i2_no_overdraft(self) -> None:
        for wallet in WALLETS:
            actual = self.ledger.balance(*wallet)
            assert actual.available >= 0
            assert actual.held == sum(self.holds[wallet].values(), D(0))
            assert actual.available == self.available(wallet)

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
        closed_at: dict[tuple[str, str], int] = {}
        placed: list[tuple[int, Any]] = []
        for position, event in self.log():
            if isinstance(event, Round.EventRecorded):
                e = decode_provider_event(event.raw)
                if isinstance(e, BettingClosed | ResultDeclared | RoundVoided):
                    closed_at.setdefault((e.provider, e.round_id), position)
            elif isinstance(event, Bet.Placed):
                placed.append((position, event))
        booked = self.ledger.load_book_cursor().position
        for position, event in placed:
            close = closed_at.get((event.provider, event.round_id))
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
@pytest.mark.timeout(1800 if SOAK else 300)
def test_invariants_hold_over_a_long_soak() -> None:
    LedgerMachine.TestCase.settings = settings(
        PROFILE,
        max_examples=2000 if SOAK else 10,
        stateful_step_count=60 if SOAK else 25,
    )
    LedgerMachine.TestCase().runTest()
