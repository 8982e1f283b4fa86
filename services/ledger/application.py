"""The ledger application: the public seam over wallet commands, game events and the round book.

`Ledger` is synchronous; the edge calls it through an executor (`executor_for`: a bet on
the event store's loop, anything else in a thread). Each command loads
the aggregates it needs, applies the domain, and saves every changed aggregate in ONE
`Application.save` call, which the JetStream recorder turns into one atomic batch with
per-aggregate optimistic concurrency. A concurrent write makes the save raise
`IntegrityError`; the command is then retried on fresh state, at most `retry_budget` times,
and only then refused with `RETRY_EXHAUSTED`.

Its parts, each with one reason to change: `base.py` (how it saves, finds and retries),
`commands.py` (the provider wallet commands), `settlement.py` (how a bet's money moves),
`replies.py` (what a command answers and what a repeat must carry), `round_state.py`
(the round as told, shared with the dispute replay) and `book.py` (the round book).

Obligations and failure modes of the seam:
- `execute` returns a `WalletReply` only after its events are stored (I6 is the store's);
  it raises `LedgerRefused` with a stable code otherwise, having written nothing.
- A bet never writes to its round: bets on one hot table never conflict with each other.
  The round book (`services.ledger.book`), one ordered follower of the notification log,
  decides which bets the log put after betting closed and refunds them (LATE_BET), voids
  rounds and settles bridge-settled rounds. `record_event` runs it after a result or a
  void; a service also runs `follow_round_book` in a thread to keep it current. The
  follower (`RoundBookFollower`, `Ledger.round_book`) owns what it remembers.

Configuration (environment, or the `env` argument): `LEDGER_BRIDGE_SETTLED_PROVIDERS`
(comma-separated providers whose rounds the ledger settles itself from the declared
result; every other provider settles per bet with credits), `LEDGER_RETRY_BUDGET`
(default 64), `LEDGER_DEBITS_ON_LOOP` (default y: `executor_for`), plus the library's
`PERSISTENCE_MODULE` and its own settings.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from decimal import Decimal
from typing import Any
from typing import ClassVar
from typing import assert_never
from uuid import UUID

from eventsourcing.utils import EnvType
from eventsourcing.utils import strtobool

from contracts.events import AnyProviderEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Award
from contracts.wallet import Balance
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import Refusal
from contracts.wallet import Rollback
from contracts.wallet import WalletReply
from services.ledger import book
from services.ledger.base import DEFAULT_CACHE_BYTES
from services.ledger.base import BetPolicy
from services.ledger.commands import WalletCommands
from services.ledger.commands import checked_amount
from services.ledger.domain import CASHIER
from services.ledger.domain import MONEY_EVENTS
from services.ledger.domain import TxRecord
from services.ledger.domain import Wallet
from services.ledger.domain import book_uuid
from services.ledger.domain import round_uuid
from services.ledger.domain import topics_of
from services.ledger.domain import tx_record_id
from services.ledger.domain import wallet_id
from services.ledger.errors import LedgerRefused
from services.ledger.known_rounds import RoundNote
from services.ledger.replies import balance_of
from services.ledger.replies import fingerprint_of
from services.ledger.replies import identity
from services.ledger.replies import record_ref
from services.ledger.replies import reply_fields
from services.ledger.round_state import round_state_of
from services.ledger.rounds import Round
from services.ledger.rounds import RoundBook
from services.ledger.turns import Turns
from services.ledger.views import RoundState

__all__ = ["CASHIER_PROVIDER", "BetPolicy", "Ledger", "record_ref"]

CASHIER_PROVIDER = "cashier"
"""The namespace of the platform cashier's transaction ids (deposits and withdrawals)."""


class Ledger(WalletCommands):
    """The money core. Sync; called from aiohttp via `run_in_executor`.

    Raises `services.ledger.errors.LedgerRefused` (attribute `.code`) for every refusal.
    """

    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "20000",
        # ...but bounded by bytes (`services.ledger.repository.SizedCache`) when set, as
        # `livebridge run` does from its memory budget; empty MAXSIZE turns the cache off.
        "AGGREGATE_CACHE_BYTES": str(DEFAULT_CACHE_BYTES),
        "REMEMBERED_BETS": str(book.REMEMBERED_BETS),
        # The library's JSON, written by msgspec: the same bytes (`services.eventstore.transcoder`).
        "TRANSCODER_TOPIC": "services.eventstore.transcoder:MsgspecTranscoder",
    }
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Wallet: 200,
        RoundBook: 200,
    }

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        self.follow_on_round_event = (self.env.get("FOLLOW_ON_ROUND_EVENT", "y") or "y") in (
            "y",
            "yes",
            "true",
            "1",
        )
        self.debits_on_loop = strtobool(self.env.get("DEBITS_ON_LOOP", "y") or "y")
        self._wallet_turns: Turns[UUID] = Turns(self.acquire)
        """Commands on one wallet run one at a time in this process (`turns`)."""
        remembered = int(self.env.get("REMEMBERED_BETS") or book.REMEMBERED_BETS)
        self.round_book = book.RoundBookFollower(self, remembered)
        """The round book's follower, and what it remembers of the bets it booked."""

    def executor_for(self, command: AnyWalletCommand) -> Executor | None:
        """Where a caller off this thread should run `execute(command)`: a debit (the path of
        every bet) on the event store's loop when its recorder offers one (`executor`), so
        its reads and its write cost no hand-off between threads; None for the rest, which
        the caller runs in a thread of its own (a credit may wait for the round book)."""
        if isinstance(command, Debit) and self.debits_on_loop:
            executor: Executor | None = getattr(self.recorder, "executor", None)
            return executor
        return None

    def execute(self, command: AnyWalletCommand) -> WalletReply:
        """Apply one provider wallet command exactly once (I3): see `contracts.wallet`.

        Commands on one wallet wait their turn (`services.ledger.turns`). A debit takes its
        round before its turn (`_round_for`), so a player's bets sent together take theirs
        at once and the turn holds only the wallet's work and its write.
        """
        debit = None
        if isinstance(command, Debit):
            debit = functools.partial(self._debit, peeked=self._round_for(command))
        with (
            self._wallet_turns.turn(wallet_id(command.player, command.currency)),
            self._composing(),
        ):
            return self._execute(command, debit)

    def _round_for(self, debit: Debit) -> Round | RoundNote | None:
        """The round as `debit` takes it: as this process knows it (`known_rounds`), without
        a read. One known closed is refused at once; any other is placed, and the round book
        refunds a bet the log puts after its round's close (I5), whichever process closed
        it. The round is read when the debit closes it (it writes the round), or when it is
        unknown here and the call names no table or game (the round's are the bet's).
        """
        known = self.known_rounds.get(debit.provider, debit.round_id)
        if debit.closes_round or (known is None and not (debit.table and debit.game)):
            return self._peek_round(debit.provider, debit.round_id)
        return known

    def _execute(
        self, command: AnyWalletCommand, debit: Callable[[Any, int], WalletReply] | None = None
    ) -> WalletReply:
        handler: Callable[[Any, int], WalletReply]
        match command:
            case Debit():
                handler = debit or self._debit
            case Credit():
                handler = self._credit
            case Rollback():
                handler = self._rollback
            case Award():
                handler = self._award
            case _:
                assert_never(command)
        what = f"{type(command).__name__.lower()} {command.provider}/{command.tx_id}"
        try:
            return self._retrying(what, handler, command)
        except LedgerRefused:
            # The refusal may rest on state that already held a concurrent twin of this very
            # transaction (its record and its effects are written atomically): if the record
            # exists now, answer as a repeat. Otherwise the refusal stands.
            record_id = tx_record_id(command.provider, command.tx_id)
            if self.find(TxRecord, record_id) is None:
                raise
            kind, fingerprint = identity(command)
            return self._retrying(
                what, lambda n: self._repeat(self._tx_record(record_id), command, kind, fingerprint)
            )

    def answered(self, provider: str, tx_id: str) -> bool:
        """Whether the ledger has answered the transaction `tx_id` of `provider` with a reply
        it keeps: taken it, or absorbed it as a late original (after its rollback, with
        `late_original="absorb"`), so that `execute` answers a repeat of it with that reply
        (I3). False for a transaction never seen, refused (nothing is kept of it), or
        still only a rollback's tombstone (a late original refused, or not yet arrived).
        Reads only; for the edge, which must refuse a debit on a dead token only when it
        is new."""
        record = self.find(TxRecord, tx_record_id(provider, tx_id))
        return record is not None and record.reply is not None

    def balance(self, player: str, currency: str) -> Balance:
        return balance_of(self._wallet(player, currency))

    def open_wallet(self, player: str, currency: str) -> None:
        checked_amount(Decimal(0), currency)

        def attempt(n: int) -> None:
            if self.find(Wallet, wallet_id(player, currency)) is None:
                self.save(Wallet(player=player, currency=currency))

        self._retrying(f"open wallet {player}/{currency}", attempt)

    def deposit(
        self,
        player: str,
        currency: str,
        amount: Decimal,
        *,
        tx_id: str,
        account: str = CASHIER,
    ) -> Balance:
        """Money in from `account` (the cashier, or a provider's table bank)."""
        return self._cashier("deposit", player, currency, amount, tx_id, account)

    def withdraw(
        self,
        player: str,
        currency: str,
        amount: Decimal,
        *,
        tx_id: str,
        account: str = CASHIER,
    ) -> Balance:
        """Money out to `account`; refused with INSUFFICIENT_FUNDS beyond what is available."""
        return self._cashier("withdraw", player, currency, amount, tx_id, account)

    def record_event(self, event: AnyProviderEvent) -> None:
        """Record one provider game event; idempotent on (provider, round_id, seq)."""

        def attempt(n: int) -> None:
            round_ = self.find(Round, round_uuid(event.provider, event.round_id))
            if round_ is None:
                round_ = Round(provider=event.provider, round_id=event.round_id)
            round_.record(event)
            if round_.pending_events:
                self.save(round_)

        self._retrying(f"round event {event.provider}/{event.round_id}#{event.seq}", attempt)
        if self.follow_on_round_event and isinstance(event, ResultDeclared | RoundVoided):
            self.drain_round_book()

    def round_state(self, provider: str, round_id: str) -> RoundState:
        """The round as the ledger knows it: provider events, verification, bets.

        Brings the round book up to date first, so every bet stored so far is listed.
        """
        self.drain_round_book()
        round_ = self.find(Round, round_uuid(provider, round_id))
        book_ = self.find(RoundBook, book_uuid(provider, round_id))
        bets = [self.bet(UUID(key)) for key in (book_.bets if book_ else {})]
        bridge_settled = provider in self.bridge_settled
        return round_state_of(provider, round_id, round_, book_, bets, bridge_settled)

    def round_header(self, provider: str, round_id: str) -> RoundState:
        """The round's status, table and game from its own aggregate alone: no bets and no
        round-book pass, so its cost does not grow with the round's bets (what a canonical
        bet reads before its hold). `UNKNOWN` when the log has no game event of it.

        Read as cached (`trusted`): the table and game never change once known, and a
        round cached as open that has closed since is the debit's to refuse (it reads the
        round as stored), so thousands of bettors on one round do not queue to catch it up.
        """
        round_ = self.find(Round, round_uuid(provider, round_id), trusted=True)
        return round_state_of(provider, round_id, round_, None, [], provider in self.bridge_settled)

    # ---- the round book ---------------------------------------------------------------

    def drain_round_book(self) -> int:
        """Apply every pending notification to the round book; the number applied."""
        return self.round_book.drain()

    def follow_round_book_once(self, limit: int = 900) -> int:
        """Apply the next notifications (at most `limit`) to the round book."""
        return self.round_book.follow_once(limit)

    def follow_round_book(self, stop: threading.Event, poll_interval: float = 0.05) -> None:
        """Keep the round book current until `stop` is set (run it in a thread)."""
        self.round_book.follow(stop, poll_interval)

    def postings_total(self, currency: str) -> dict[str, Decimal]:
        """Every account's balance in `currency`, summed from the postings in the log (I1)."""
        totals: dict[str, Decimal] = {}
        topics = topics_of(*MONEY_EVENTS)
        start = 1
        while batch := self.recorder.select_notifications(start, 1000, topics=topics):
            for notification in batch:
                event = self.mapper.to_domain_event(notification)
                wallet = self._wallet_currency(event.originator_id)
                if wallet == currency:
                    for account, amount in getattr(event, "postings", {}).items():
                        totals[account] = totals.get(account, Decimal(0)) + amount
            start = batch[-1].id + 1
        return totals

    # ---- the cashier -----------------------------------------------------------------

    def transfer(
        self,
        kind: str,
        player: str,
        currency: str,
        amount: Decimal,
        *,
        tx_id: str,
        account: str = CASHIER,
    ) -> WalletReply:
        """A cashier movement (`kind` `deposit` or `withdraw`) exactly once per `tx_id`.

        `log_position` is the wallet event's. A repeat with the same payload answers the
        original reply with `replayed=True` (its `log_position` 0: the caller finds it by
        `tx_ref`); another payload is refused with `DUPLICATE_CONFLICT`.
        """
        if kind not in ("deposit", "withdraw"):
            raise ValueError(f"cashier kind {kind!r}")
        value = checked_amount(amount, currency, positive=True)
        fingerprint = fingerprint_of(kind, player, currency, str(value), account)

        def attempt(n: int) -> WalletReply:
            earlier = self.find(TxRecord, tx_record_id(CASHIER_PROVIDER, tx_id))
            if earlier is not None:
                if earlier.fingerprint != fingerprint:
                    raise LedgerRefused(
                        Refusal.DUPLICATE_CONFLICT,
                        f"cashier transaction {tx_id} was a {earlier.kind} with another payload",
                    )
                assert earlier.reply is not None
                return WalletReply(**earlier.reply, replayed=True)  # the original answer (I3)
            wallet = self._wallet(player, currency)
            ref = record_ref(CASHIER_PROVIDER, tx_id)
            if kind == "deposit":
                if self.policy is not None and account == CASHIER:
                    self.policy.check_deposit(player, currency, wallet, value)
                wallet.deposit(ref, value, account)
            else:
                if self.policy is not None and account != CASHIER:  # into a table bank
                    self.policy.check_may_play(player)
                wallet.withdraw(ref, value, account)
            reply = reply_fields(ref, wallet, kind)
            record = TxRecord.record(CASHIER_PROVIDER, tx_id, kind, fingerprint, reply, [])
            recordings = self.save(wallet, record)
            moved = [
                r.notification.id for r in recordings if r.domain_event.originator_id == wallet.id
            ]
            return WalletReply(**reply, log_position=moved[-1] if moved else 0)

        with self._wallet_turns.turn(wallet_id(player, currency)):
            try:
                return self._retrying(f"{kind} {tx_id}", attempt)
            except LedgerRefused:
                # As in `execute`: a concurrent twin may have landed after the first read.
                if self.find(TxRecord, tx_record_id(CASHIER_PROVIDER, tx_id)) is None:
                    raise
                return self._retrying(f"{kind} {tx_id}", attempt)

    def _cashier(
        self, kind: str, player: str, currency: str, amount: Decimal, tx_id: str, account: str
    ) -> Balance:
        reply = self.transfer(kind, player, currency, amount, tx_id=tx_id, account=account)
        return Balance(
            player=reply.player,
            currency=reply.currency,
            balance=reply.balance,
            held=reply.balance - reply.available,
            available=reply.available,
        )
