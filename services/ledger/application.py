"""The ledger application: wallet commands, provider game events and the round book.

`Ledger` is synchronous; the edge calls it through a thread executor. Each command loads
the aggregates it needs, applies the domain, and saves every changed aggregate in ONE
`Application.save` call, which the JetStream recorder turns into one atomic batch with
per-aggregate optimistic concurrency. A concurrent write makes the save raise
`IntegrityError`; the command is then retried on fresh state, at most `retry_budget` times,
and only then refused with `RETRY_EXHAUSTED`.

Obligations and failure modes of the seam:
- `execute` returns a `WalletReply` only after its events are stored (I6 is the store's);
  it raises `LedgerRefused` with a stable code otherwise, having written nothing.
- A bet never writes to its round: bets on one hot table never conflict with each other.
  The round book (`services.ledger.book`), one ordered follower of the notification log,
  decides which bets the log put after betting closed and refunds them (LATE_BET), voids
  rounds and settles bridge-settled rounds. `record_event` runs it after a result or a
  void; a service also runs `follow_round_book` in a thread to keep it current.

Configuration (environment, or the `env` argument): `LEDGER_BRIDGE_SETTLED_PROVIDERS`
(comma-separated providers whose rounds the ledger settles itself from the declared
result; every other provider settles per bet with credits), `LEDGER_RETRY_BUDGET`
(default 64), plus the library's `PERSISTENCE_MODULE` and its own settings.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from types import EllipsisType
from typing import Any, ClassVar, Protocol, TypeVar, assert_never
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import EnvType, get_topic, strtobool

from contracts import money
from contracts.events import AnyProviderEvent, ResultDeclared, RoundVoided
from contracts.wallet import (
    AnyWalletCommand,
    Award,
    AwardCause,
    Balance,
    Credit,
    Debit,
    Outcome,
    Refusal,
    Rollback,
    WalletReply,
)
from services.ledger import book
from services.ledger.domain import (
    CASHIER,
    HOUSE,
    MONEY_EVENTS,
    PROMO,
    Bet,
    TxRecord,
    Wallet,
    bet_uuid,
    book_uuid,
    project,
    round_uuid,
    tx_record_id,
    wallet_id,
)
from services.ledger.errors import LedgerRefused
from services.ledger.payouts import expected_payout, outcome_for
from services.ledger.repository import LedgerRepository
from services.ledger.rounds import BookCursor, Round, RoundBook
from services.ledger.turns import Turns
from services.ledger.views import BetStatus, BetView, RoundState, RoundStatus, Verification

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

DEFAULT_CACHE_BYTES = 64 * 2**20
"""The aggregate cache's default bound (`AGGREGATE_CACHE_BYTES`): 64 MiB."""

CASHIER_PROVIDER = "cashier"
"""The namespace of the platform cashier's transaction ids (deposits and withdrawals)."""


class BetPolicy(Protocol):
    """Limits and player protection, checked before every hold and cashier deposit
    (`services.ledger.protection.Protection`); each raises `LedgerRefused` to refuse."""

    def check_bet(self, cmd: Debit, wallet: Wallet, round_key: str, amount: Decimal) -> None: ...

    def check_deposit(
        self, player: str, currency: str, wallet: Wallet, amount: Decimal
    ) -> None: ...


class Ledger(Application[UUID]):
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
        providers = self.env.get("BRIDGE_SETTLED_PROVIDERS", "") or ""
        self.bridge_settled = frozenset(p.strip() for p in providers.split(",") if p.strip())
        self.retry_budget = int(self.env.get("RETRY_BUDGET", "64") or "64")
        self.follow_on_round_event = (self.env.get("FOLLOW_ON_ROUND_EVENT", "y") or "y") in (
            "y",
            "yes",
            "true",
            "1",
        )
        self._book_lock = threading.Lock()
        self.policy: BetPolicy | None = None
        """Limits and protection, checked before every hold and deposit (set by the
        composition root)."""
        self._wallet_turns: Turns[UUID] = Turns()
        """Commands on one wallet run one at a time in this process (`turns`)."""
        self.book_scanned = 0
        self.conflicts_retried = 0
        self.remembered_bets = int(self.env.get("REMEMBERED_BETS") or book.REMEMBERED_BETS)
        """How many bets the round book remembers in each of the two maps below (the oldest
        are forgotten first, a resolved bet at once): see `book._remember`."""
        self.booked_bets: OrderedDict[UUID, None] = OrderedDict()
        """Open bets this process's round book booked before their round closed."""
        self.placed_bets: OrderedDict[UUID, Bet.Placed] = OrderedDict()
        """The round book's memory of the open bets it booked: see `book._remember`."""
        """Concurrent writes lost and retried on fresh state (a gauge for operations)."""
        """How far this process's round book has read the log, relevant or not."""

    def construct_repository(self) -> LedgerRepository:
        """The library's repository, configured the library's way, whose cache keeps what
        this process saved (`services.ledger.repository`)."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        cache_bytes = self.env.get("AGGREGATE_CACHE_BYTES")
        return LedgerRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            cache_bytes=int(cache_bytes) if maxsize and cache_bytes else None,
            # Written once and rarely read back: caching them only pushed wallets out.
            uncached=(Bet, TxRecord),
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(
                self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")
            ),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    @property
    def repository(self) -> LedgerRepository:
        repository = super().repository
        assert isinstance(repository, LedgerRepository)
        return repository

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """`Application.save`, collecting events without a runtime-Protocol `isinstance`
        per aggregate (`_Collected`)."""
        processing_event = _Collected()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated, as in the library
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot each aggregate just saved whose events passed a multiple of its interval,
        once, at the version saved. The library reads the aggregate back from the store at
        each such version (a round book booking a thousand bets: five whole reads)."""
        if not (self.snapshots and self.snapshotting_intervals):
            return
        due: dict[UUID, Aggregate] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval is not None and event.originator_version % interval == 0:
                assert isinstance(aggregate, Aggregate)
                due[aggregate.id] = aggregate
        if due:
            self.snapshots.put([type(a).Snapshot.take(a) for a in due.values()])

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Record as the library does, then cache what was saved (which the library, with
        fast-forward on, leaves behind)."""
        recordings = super()._record(processing_event)
        self.repository.keep(processing_event.aggregates.values())
        return recordings

    # ---- the public seam -------------------------------------------------------------

    def execute(self, command: AnyWalletCommand) -> WalletReply:
        """Apply one provider wallet command exactly once (I3): see `contracts.wallet`.

        Commands on one wallet wait their turn (`services.ledger.turns`). A debit reads its
        round before its turn, so a player's bets sent together read theirs at once and the
        turn holds only the wallet's work and its write. Betting may close in between, as it
        may between the read and the write anyway: the round book refunds such a bet (I5).
        """
        debit = None
        if isinstance(command, Debit):
            debit = functools.partial(
                self._debit, peeked=self._peek_round(command.provider, command.round_id)
            )
        with self._wallet_turns.turn(wallet_id(command.player, command.currency)):
            return self._execute(command, debit)

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
            kind, fingerprint = _identity(command)
            return self._retrying(
                what, lambda n: self._repeat(self._tx_record(record_id), command, kind, fingerprint)
            )

    def balance(self, player: str, currency: str) -> Balance:
        return _balance(self._wallet(player, currency))

    def open_wallet(self, player: str, currency: str) -> None:
        _amount(Decimal(0), currency)

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
        total = 0
        while applied := self.follow_round_book_once():
            total += applied
        return total

    def follow_round_book_once(self, limit: int = 900) -> int:
        """Apply the next notifications (at most `limit`) to the round book."""
        with self._book_lock:
            try:
                return self._retrying("round book", lambda n: book.follow(self, limit))
            except BaseException:
                self.book_scanned = 0  # re-read from the saved cursor
                raise

    def follow_round_book(self, stop: threading.Event, poll_interval: float = 0.05) -> None:
        """Keep the round book current until `stop` is set (run it in a thread)."""
        while not stop.is_set():
            if not self.follow_round_book_once():
                stop.wait(poll_interval)

    def postings_total(self, currency: str) -> dict[str, Decimal]:
        """Every account's balance in `currency`, summed from the postings in the log (I1)."""
        totals: dict[str, Decimal] = {}
        topics = [get_topic(cls) for cls in MONEY_EVENTS]
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

    # ---- commands ----------------------------------------------------------------------

    def _debit(
        self, cmd: Debit, attempt: int, *, peeked: Round | EllipsisType | None = ...
    ) -> WalletReply:
        if attempt == 0:
            # Optimistic first attempt: it does not read the transaction record or the bet
            # (nor its round, when read before its turn: `peeked`). A repeat or a tombstone
            # then makes the save conflict, or the domain refuse; the careful attempt reads
            # them, so a repeat is replayed, never refused anew.
            with contextlib.suppress(LedgerRefused):
                return self._place_bet(cmd, careful=False, peeked=peeked)
        return self._place_bet(cmd, careful=True)

    def _place_bet(
        self, cmd: Debit, *, careful: bool, peeked: Round | EllipsisType | None = ...
    ) -> WalletReply:
        amount = _amount(cmd.amount, cmd.currency, positive=True)
        _, fingerprint = _identity(cmd)
        if careful:
            earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
            if earlier is not None:
                return self._repeat(earlier, cmd, "debit", fingerprint)
        round_ = self._peek_round(cmd.provider, cmd.round_id) if peeked is ... else peeked
        if round_ is not None and round_.betting_closed:
            raise LedgerRefused(
                Refusal.BETTING_CLOSED,
                f"round {cmd.provider}/{cmd.round_id} closed betting; bet {cmd.tx_id} "
                f"of player {cmd.player!r} is refused",
            )
        bet_id = cmd.bet_id or cmd.tx_id
        if careful and self.find(Bet, bet_uuid(cmd.provider, bet_id)) is not None:
            raise LedgerRefused(
                Refusal.DUPLICATE_CONFLICT,
                f"bet {cmd.provider}/{bet_id} exists already; transaction {cmd.tx_id} "
                "cannot place it again",
            )
        # The optimistic attempt takes the wallet as this process last saw it, without a read:
        # a write since by another process makes the save conflict, and a refusal is decided
        # again by the careful attempt, on a fresh read.
        wallet = self._wallet(cmd.player, cmd.currency, trusted=not careful)
        if self.policy is not None:
            self.policy.check_bet(cmd, wallet, round_uuid(cmd.provider, cmd.round_id).hex, amount)
        bet = Bet(
            provider=cmd.provider,
            bet_id=bet_id,
            tx_id=cmd.tx_id,
            player=cmd.player,
            currency=cmd.currency,
            stake=amount,
            round_id=cmd.round_id,
            game=cmd.game or (round_.game if round_ else ""),
            table=cmd.table or (round_.table if round_ else ""),
            selections=[_selection(s.market, s.value, s.amount) for s in cmd.selections],
            session_id=cmd.session_id,
        )
        wallet.hold(bet.key, amount, bet.round_key)
        record = TxRecord.record(
            provider=cmd.provider,
            tx_id=cmd.tx_id,
            kind="debit",
            fingerprint=fingerprint,
            reply=_reply(record_ref(cmd.provider, cmd.tx_id), wallet, "debit"),
            bets=[bet.key],
            session_id=cmd.session_id,
        )
        return self._saved(record, wallet, bet, record, *self._closing(cmd, round_))

    def _credit(self, cmd: Credit, attempt: int) -> WalletReply:
        amount = _amount(cmd.amount, cmd.currency)
        _, fingerprint = _identity(cmd)
        earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
        if earlier is not None:
            return self._repeat(earlier, cmd, "credit", fingerprint)
        wallet = self._wallet(cmd.player, cmd.currency)
        if _only_closes(cmd, wallet):
            return self._close_only(cmd, fingerprint, wallet)
        bets = self._bets_to_credit(cmd, wallet)
        rounds = {(b.provider, b.round_id): self._peek_round(b.provider, b.round_id) for b in bets}
        self._ensure_booked(bets, rounds)
        expected = [_expected(bet, rounds[bet.provider, bet.round_id]) for bet in bets]
        payouts, flagged = _share_credit(amount, bets, expected, cmd.currency)
        for bet, payout, own in zip(bets, payouts, expected, strict=True):
            settle_bet(wallet, bet, payout, own, cmd.tx_id, flagged=flagged)
        record = TxRecord.record(
            provider=cmd.provider,
            tx_id=cmd.tx_id,
            kind="credit",
            fingerprint=fingerprint,
            reply=_reply(record_ref(cmd.provider, cmd.tx_id), wallet, "credit"),
            bets=[bet.key for bet in bets],
            session_id=cmd.session_id,
        )
        closing = self._closing(cmd, rounds.get((cmd.provider, cmd.round_id)))
        return self._saved(record, wallet, *bets, record, *closing)

    def _close_only(self, cmd: Credit, fingerprint: str, wallet: Wallet) -> WalletReply:
        """A round-closing zero credit that finds nothing open (Pragmatic `endRound` after
        every result): recorded once by its transaction id, and the round closes."""
        record = TxRecord.record(
            provider=cmd.provider,
            tx_id=cmd.tx_id,
            kind="credit",
            fingerprint=fingerprint,
            reply=_reply(record_ref(cmd.provider, cmd.tx_id), wallet, "credit"),
            bets=[],
            session_id=cmd.session_id,
        )
        return self._saved(record, record, *self._closing(cmd, None))

    def _award(self, cmd: Award, attempt: int) -> WalletReply:
        """A promotion, jackpot or adjustment: one wallet event from (or to) its account,
        recorded once by the provider's transaction id (I3), in one atomic save."""
        amount = _signed_amount(cmd)
        _, fingerprint = _identity(cmd)
        earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
        if earlier is not None:
            return self._repeat(earlier, cmd, "award", fingerprint)
        if cmd.ref_tx_id:
            self._require_award(cmd)
        wallet = self._wallet(cmd.player, cmd.currency)
        ref = record_ref(cmd.provider, cmd.tx_id)
        account = award_account(cmd.cause)
        changed: list[Aggregate] = []
        if amount:
            wallet.award(
                ref,
                amount,
                cause=cmd.cause.value,
                account=account,
                provider=cmd.provider,
                tx_id=cmd.tx_id,
                round_id=cmd.round_id,
            )
            changed.append(wallet)
        record = TxRecord.record(
            provider=cmd.provider,
            tx_id=cmd.tx_id,
            kind="award",
            fingerprint=fingerprint,
            reply=_reply(ref, wallet, "award"),
            bets=[],
            session_id=cmd.session_id,
        )
        record.note_award(amount, cmd.cause.value, account, cmd.round_id)
        return self._saved(record, *changed, record, *self._closing(cmd, None))

    def _require_award(self, cmd: Award) -> None:
        """The award `cmd` pays out (a free bet) must be known, an award, and standing."""
        named = self.find(TxRecord, tx_record_id(cmd.provider, cmd.ref_tx_id))
        if named is None or named.reply is None or named.kind != "award":
            raise LedgerRefused(
                Refusal.BET_NOT_FOUND,
                f"award {cmd.provider}/{cmd.tx_id} pays out {cmd.ref_tx_id}, which the ledger "
                "never took as an award",
            )
        if named.reply["currency"] != cmd.currency:
            raise LedgerRefused(
                Refusal.CURRENCY_MISMATCH,
                f"award {cmd.provider}/{cmd.tx_id} is in {cmd.currency}; {cmd.ref_tx_id} was in "
                f"{named.reply['currency']}",
            )
        if named.rolled_back_by or named.reply["player"] != cmd.player:
            rolled_back = bool(named.rolled_back_by)
            raise LedgerRefused(
                Refusal.TRANSACTION_ROLLED_BACK if rolled_back else Refusal.BET_NOT_FOUND,
                f"award {cmd.provider}/{cmd.tx_id} pays out {cmd.ref_tx_id}, which was rolled "
                "back or is another player's",
            )

    def _closing(self, cmd: AnyWalletCommand, peeked: Round | None) -> list[Round]:
        """The round `cmd` closes (`closes_round`), if it is not closed yet: saved after the
        command's bet events, so the round book orders every later bet after the close
        (I5) and the round reads CLOSED. `peeked` is the round as the command read it."""
        if not cmd.closes_round or not cmd.round_id:
            return []
        round_ = peeked or self._peek_round(cmd.provider, cmd.round_id)
        if round_ is None:
            round_ = Round(provider=cmd.provider, round_id=cmd.round_id)
        return [round_] if round_.close_by_transaction(cmd.tx_id) else []

    def _bets_to_credit(self, cmd: Credit, wallet: Wallet) -> list[Bet]:
        if cmd.bet_id:
            bet = self.find(Bet, bet_uuid(cmd.provider, cmd.bet_id))
            if bet is None:
                raise LedgerRefused(
                    Refusal.BET_NOT_FOUND,
                    f"credit {cmd.tx_id} names bet {cmd.provider}/{cmd.bet_id}, which the "
                    "ledger never took",
                )
            bets = [bet]
        else:
            round_key = round_uuid(cmd.provider, cmd.round_id).hex
            keys = [k for k, r in wallet.hold_rounds.items() if r == round_key]
            bets = [self.bet(UUID(k)) for k in keys]
            if not bets:
                raise LedgerRefused(
                    Refusal.BET_NOT_FOUND,
                    f"credit {cmd.tx_id}: player {cmd.player!r} has no open bet in round "
                    f"{cmd.provider}/{cmd.round_id}",
                )
        for bet in bets:
            if bet.player != cmd.player:
                raise LedgerRefused(
                    Refusal.BET_NOT_FOUND,
                    f"bet {cmd.provider}/{bet.bet_id} belongs to another player than "
                    f"{cmd.player!r}",
                )
            if bet.currency != cmd.currency:
                raise LedgerRefused(
                    Refusal.CURRENCY_MISMATCH,
                    f"credit {cmd.tx_id} is in {cmd.currency}; bet {bet.bet_id} was in "
                    f"{bet.currency}",
                )
        return bets

    def _ensure_booked(
        self, bets: Iterable[Bet], rounds: Mapping[tuple[str, str], Round | None]
    ) -> None:
        """Before a bet is paid, make sure the log did not put it after betting closed (I5).

        Only a round known closed can hold a late bet; then the round book must have booked
        the bet on time (this process remembers those), else it catches up first, and a bet
        it refunds as late is refused here (BETTING_CLOSED).
        """
        for bet in bets:
            round_ = rounds[bet.provider, bet.round_id]
            if round_ is None or not round_.betting_closed or bet.id in self.booked_bets:
                continue
            self.drain_round_book()
            fresh = self.bet(bet.id)
            fresh.require_open()  # refused if the round book refunded it as late
            if fresh.version != bet.version:
                # a concurrent write moved the bet: retry the command on fresh state
                raise IntegrityError(f"bet {bet.bet_id} changed while booking")

    def _rollback(self, cmd: Rollback, attempt: int) -> WalletReply:
        _, fingerprint = _identity(cmd)
        ref = record_ref(cmd.provider, cmd.tx_id)
        earlier = self.find(TxRecord, tx_record_id(cmd.provider, cmd.tx_id))
        if earlier is not None:
            return self._repeat(earlier, cmd, "rollback", fingerprint)
        if cmd.amount is not None:
            _amount(cmd.amount, cmd.currency)
        if cmd.late_original not in ("refuse", "absorb"):
            raise LedgerRefused(
                Refusal.DUPLICATE_CONFLICT,
                f"rollback {cmd.tx_id}: late_original must be 'refuse' or 'absorb', "
                f"not {cmd.late_original!r}",
            )
        wallet = self.find(Wallet, wallet_id(cmd.player, cmd.currency))
        original = self.find(TxRecord, tx_record_id(cmd.provider, cmd.ref_tx_id))
        changed: list[Aggregate] = []
        undone: list[Bet] = []
        reversed_award = False
        if original is None:
            # The rollback came first: remember it, so the late original is harmless.
            changed.append(
                TxRecord.tombstone(
                    cmd.provider, cmd.ref_tx_id, cmd.tx_id, cmd.late_original, cmd.session_id
                )
            )
        elif original.kind == "rollback":
            raise LedgerRefused(
                Refusal.TRANSACTION_NOT_FOUND,
                f"rollback {cmd.tx_id} names {cmd.ref_tx_id}, itself a rollback; "
                "a rollback cannot be rolled back",
            )
        elif original.reply is not None and not original.rolled_back_by:
            if original.reply["currency"] != cmd.currency:
                raise LedgerRefused(
                    Refusal.CURRENCY_MISMATCH,
                    f"rollback {cmd.tx_id} is in {cmd.currency}; transaction "
                    f"{cmd.ref_tx_id} was in {original.reply['currency']}",
                )
            if original.reply["player"] != cmd.player:
                raise LedgerRefused(
                    Refusal.TRANSACTION_NOT_FOUND,
                    f"transaction {cmd.ref_tx_id} is not player {cmd.player!r}'s",
                )
            wallet = self._wallet(cmd.player, cmd.currency)
            reversed_award = False
            if original.kind == "award":
                reversed_award = self._undo_award(cmd, original, wallet)
            elif not original.reply.get("absorbed"):
                undone = self._undo(cmd, original, wallet)
            original.mark_rolled_back(cmd.tx_id)
            changed += [wallet, *undone, original]
        reply = _reply(ref, wallet, "rollback", player=cmd.player, currency=cmd.currency)
        # Nothing to undo (its target unknown and now remembered, absorbed, already rolled
        # back or refunded): the provider may answer so (Evolution BET_DOES_NOT_EXIST).
        reply["absorbed"] = not undone and not (original is not None and reversed_award)
        record = TxRecord.record(
            provider=cmd.provider,
            tx_id=cmd.tx_id,
            kind="rollback",
            fingerprint=fingerprint,
            reply=reply,
            bets=[],
            session_id=cmd.session_id,
        )
        closing = self._closing(cmd, None)
        return self._saved(record, *changed, record, *closing)

    def _undo_award(self, cmd: Rollback, original: TxRecord, wallet: Wallet) -> bool:
        """Reverse an award the rollback names (its money goes back to its account); False
        when it moved none. Refused, moving nothing, if the player spent it already."""
        if cmd.only_open:
            raise LedgerRefused(
                Refusal.BET_ALREADY_SETTLED,
                f"rollback {cmd.provider}/{cmd.tx_id} cancels only open bets; "
                f"{cmd.ref_tx_id} is an award, paid already; nothing moved",
            )
        award = original.award
        if not award or not award["amount"]:
            return False
        wallet.reverse_award(
            record_ref(cmd.provider, cmd.tx_id),
            award["amount"],
            cause=award["cause"],
            account=award["account"],
            provider=cmd.provider,
            tx_id=cmd.tx_id,
            round_id=award["round_id"],
            undone_tx_id=cmd.ref_tx_id,
        )
        return True

    def _undo(self, cmd: Rollback, original: TxRecord, wallet: Wallet) -> list[Bet]:
        """Undo what `original` did to its bets; the bets that changed."""
        bets = [self.bet(UUID(key)) for key in original.bets]
        if cmd.amount is not None and original.kind == "debit":
            _require_debit_amount(cmd, bets)
        if cmd.only_open:
            _require_open_to_cancel(cmd, bets)
        undone: list[Bet] = []
        for bet in bets:
            if original.kind == "credit":
                # A win rolled back undoes that credit only: the bet awaits another.
                if bet.status == BetStatus.SETTLED and bet.settled_by == original.tx_id:
                    reopen_bet(wallet, bet, cmd.cause, cmd.tx_id)
                    undone.append(bet)
            elif bet.status != BetStatus.REFUNDED:
                refund_bet(wallet, bet, cmd.cause, cmd.tx_id)
                undone.append(bet)
        return undone

    def _repeat(
        self, earlier: TxRecord, cmd: AnyWalletCommand, kind: str, fingerprint: str
    ) -> WalletReply:
        """A transaction id seen before: replay, refuse, or absorb the late original."""
        if earlier.reply is not None:
            if not _same_payload(earlier.fingerprint, fingerprint, cmd):
                raise LedgerRefused(
                    Refusal.DUPLICATE_CONFLICT,
                    f"transaction {cmd.provider}/{cmd.tx_id} was a {earlier.kind} with another "
                    "payload; a repeat must carry the same one",
                )
            return WalletReply(**earlier.reply, replayed=True)
        if earlier.late_original == "absorb":
            wallet = self.find(Wallet, wallet_id(cmd.player, cmd.currency))
            ref = record_ref(cmd.provider, cmd.tx_id)
            reply = _reply(ref, wallet, kind, player=cmd.player, currency=cmd.currency)
            reply["absorbed"] = True
            earlier.absorb(kind, fingerprint, reply, cmd.session_id)
            return self._saved(earlier, earlier)
        raise LedgerRefused(
            Refusal.TRANSACTION_ROLLED_BACK,
            f"transaction {cmd.provider}/{cmd.tx_id} was rolled back by {earlier.tombstone_by} "
            "before it arrived; it is refused",
        )

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
        value = _amount(amount, currency, positive=True)
        fingerprint = _fingerprint(kind, player, currency, str(value), account)

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
                wallet.withdraw(ref, value, account)
            reply = _reply(ref, wallet, kind)
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

    # ---- plumbing ----------------------------------------------------------------------

    def _saved(self, record: TxRecord, *aggregates: Aggregate) -> WalletReply:
        recordings = self.save(*aggregates)
        assert record.reply is not None
        position = recordings[-1].notification.id if recordings else 0
        return WalletReply(**record.reply, log_position=position)

    def _retrying(self, what: str, command: Callable[..., T], *args: Any) -> T:
        for attempt in range(self.retry_budget):
            try:
                return command(*args, attempt)
            except IntegrityError:
                self.conflicts_retried += 1
                # Back off a little, more each time, so two writers stop colliding in step.
                time.sleep(random.uniform(0, 0.001 * min(attempt, 20)))
        raise LedgerRefused(
            Refusal.RETRY_EXHAUSTED,
            f"{what}: {self.retry_budget} attempts each lost to a concurrent write; "
            "nothing was written, send it again",
        )

    def find(self, cls: type[A], aggregate_id: UUID, *, trusted: bool = False) -> A | None:
        """The aggregate of type `cls` with `aggregate_id`, or None. `trusted`: as cached,
        without catching up (see `services.ledger.repository`): only where a stale one
        cannot win."""
        try:
            aggregate: Aggregate = self.repository.get(
                aggregate_id,
                projector_func=project,
                trusted=trusted,
                snapshotted=cls in self.snapshotting_intervals,
            )
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, cls), (aggregate_id, type(aggregate))
        return aggregate

    def _wallet(self, player: str, currency: str, *, trusted: bool = False) -> Wallet:
        wallet = self.find(Wallet, wallet_id(player, currency), trusted=trusted)
        if wallet is None:
            raise LedgerRefused(
                Refusal.UNKNOWN_WALLET,
                f"player {player!r} has no {currency} wallet; open it first",
            )
        return wallet

    def _wallet_currency(self, wallet: UUID) -> str:
        found = self.find(Wallet, wallet)
        return found.currency if found else ""

    def load_book_cursor(self) -> BookCursor:
        return self.find(BookCursor, BookCursor.create_id()) or BookCursor()

    def _peek_round(self, provider: str, round_id: str) -> Round | None:
        """The round as stored now, read around the aggregate cache.

        Every bet of a hot table reads its round; through the cache they would queue on the
        round's fast-forward lock, one JetStream read at a time. A round has few events.
        """
        events = self.events.get(round_uuid(provider, round_id))
        found = project(None, events)
        assert found is None or isinstance(found, Round)
        return found

    def _tx_record(self, record_id: UUID) -> TxRecord:
        found = self.find(TxRecord, record_id)
        assert found is not None, record_id
        return found

    def bet(self, bet_id: UUID) -> Bet:
        found = self.find(Bet, bet_id)
        if found is None:
            raise LedgerRefused(Refusal.BET_NOT_FOUND, f"no bet {bet_id.hex} in the ledger")
        return found


class _Collected(ProcessingEvent[UUID]):
    """The library's `ProcessingEvent`, checking the ledger's own aggregates by class: its
    `isinstance` against runtime Protocols costs more than a bet's domain work."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        others = []
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            elif obj is not None:
                others.append(obj)
        super().collect_events(*others, **kwargs)


def award_account(cause: AwardCause) -> str:
    """The counter-account of an award (I1): promotions from `promo`, the rest the house."""
    return PROMO if cause is AwardCause.PROMO else HOUSE


def record_ref(provider: str, tx_id: str) -> str:
    return "trn_" + tx_record_id(provider, tx_id).hex


def settle_bet(
    wallet: Wallet,
    bet: Bet,
    payout: Decimal,
    expected: Decimal | None,
    tx_id: str,
    *,
    flagged: bool | None = None,
) -> None:
    """Capture the stake and credit the payout: the bet is settled once (I4).

    Every check runs before the first event, so a refusal leaves both aggregates unchanged.
    """
    bet.require_open()
    wallet.capture(bet.key)
    wallet.credit_win(bet.key, payout)
    bet.settle(outcome_for(bet.stake, payout), payout, expected, tx_id, flagged=flagged)


def refund_bet(wallet: Wallet, bet: Bet, cause: str, tx_id: str = "") -> None:
    """Refund an open bet (release its hold) or reverse a settled one, once (I4).

    Every check runs before the first event, so a refusal leaves both aggregates unchanged.
    """
    bet.require_not_refunded()
    if bet.status == BetStatus.OPEN:
        wallet.release(bet.key, cause)
    else:
        wallet.reverse_settlement(bet.key, bet.stake, bet.payout, cause)
    bet.refund(cause, tx_id)


def reopen_bet(wallet: Wallet, bet: Bet, cause: str, tx_id: str) -> None:
    """Undo a settled bet's credit: the payout goes back, the stake is held again, and the
    bet is open for a corrected credit. Checks run before the first event."""
    bet.require_settled()
    wallet.take_back_win(bet.key, bet.stake, bet.payout, bet.round_key, cause)
    bet.reopen(cause, tx_id)


def _require_debit_amount(cmd: Rollback, bets: Iterable[Bet]) -> None:
    """A rollback that names an amount must name the debit's (Ezugi `rollbackAmount`: both
    public implementations refuse another); a partial or inflated refund moves nothing."""
    assert cmd.amount is not None
    stake = sum((bet.stake for bet in bets), Decimal(0))
    if money.check_amount(cmd.amount, cmd.currency) != stake:
        raise LedgerRefused(
            Refusal.INVALID_AMOUNT,
            f"rollback {cmd.provider}/{cmd.tx_id} returns {cmd.amount} {cmd.currency}, but "
            f"debit {cmd.ref_tx_id} took {stake} {cmd.currency}; nothing moved, send the "
            "rollback with the debit's amount",
        )


def _require_open_to_cancel(cmd: Rollback, bets: Iterable[Bet]) -> None:
    """`Rollback.only_open`: a cancel undoes an open bet only; a resolved one stays as it is."""
    for bet in bets:
        if bet.status != BetStatus.OPEN:
            raise LedgerRefused(
                bet.resolved_refusal,
                f"rollback {cmd.provider}/{cmd.tx_id} cancels only open bets; bet "
                f"{bet.provider}/{bet.bet_id} of transaction {cmd.ref_tx_id} is "
                f"{bet.status.lower()} already"
                + (f" ({bet.cause})" if bet.cause else "")
                + "; nothing moved, settle a dispute by a new transaction",
            )


def _amount(value: Decimal, currency: str, *, positive: bool = False) -> Decimal:
    try:
        return money.check_amount(value, currency, allow_zero=not positive)
    except money.UnknownCurrency as exc:
        raise LedgerRefused(Refusal.UNKNOWN_CURRENCY, str(exc)) from None
    except money.MoneyError as exc:
        raise LedgerRefused(Refusal.INVALID_AMOUNT, str(exc)) from None


def _signed_amount(cmd: Award) -> Decimal:
    """An award's amount: at least 0, except an adjustment, which may be negative."""
    if not cmd.amount.is_finite():
        return _amount(cmd.amount, cmd.currency)  # refused: not money
    if cmd.amount < 0 and cmd.cause is not AwardCause.ADJUSTMENT:
        raise LedgerRefused(
            Refusal.INVALID_AMOUNT,
            f"award {cmd.provider}/{cmd.tx_id}: a {cmd.cause.value.lower()} pays the player; "
            f"{cmd.amount} {cmd.currency} is negative",
        )
    if cmd.amount < 0:
        return -_amount(-cmd.amount, cmd.currency)
    return _amount(cmd.amount, cmd.currency)


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _normal(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    try:
        return str(money.check_amount(amount, currency))
    except money.MoneyError:
        return str(amount)


FINGERPRINT_VERSION = "2:"
"""Prefix of the fingerprints that also cover the game (and a rollback's round): Hub88
refuses a repeated transaction id with "a different reference transactionID, amount,
currency, round, user or game". Records written before it keep their first fingerprint."""


def _identity(cmd: AnyWalletCommand) -> tuple[str, str]:
    """The kind of a command and the fingerprint of what a repeat must carry unchanged:
    every field a provider names when it tells a repeat from another transaction."""
    kind, legacy = _legacy_identity(cmd)
    match cmd:
        case Debit() | Credit():
            extra: tuple[str, ...] = (cmd.game,)
        case Rollback():
            extra = (cmd.round_id, cmd.game)
        case Award():
            extra = ()
        case _:
            assert_never(cmd)
    return kind, FINGERPRINT_VERSION + _fingerprint(legacy, *extra)


def _same_payload(stored: str, fingerprint: str, cmd: AnyWalletCommand) -> bool:
    """Whether a repeat carries its first payload; a record older than FINGERPRINT_VERSION
    is compared on the fields it covered."""
    if stored.startswith(FINGERPRINT_VERSION):
        return stored == fingerprint
    return stored == _legacy_identity(cmd)[1]


def _legacy_identity(cmd: AnyWalletCommand) -> tuple[str, str]:
    """The fingerprint before it covered the game (kept to compare old records)."""
    common = (cmd.player, cmd.currency)
    match cmd:
        case Debit():
            picks = msgspec.json.encode(cmd.selections).decode()
            amount = _normal(cmd.amount, cmd.currency)
            return "debit", _fingerprint("debit", *common, amount, cmd.round_id, cmd.bet_id, picks)
        case Credit():
            amount = _normal(cmd.amount, cmd.currency)
            return "credit", _fingerprint("credit", *common, amount, cmd.round_id, cmd.bet_id)
        case Rollback():
            amount = _normal(cmd.amount, cmd.currency)
            return "rollback", _fingerprint("rollback", *common, cmd.ref_tx_id, amount)
        case Award():
            amount = _normal(abs(cmd.amount), cmd.currency)
            sign = "-" if cmd.amount < 0 else ""
            fields = (sign + amount, cmd.cause.value, cmd.round_id, cmd.game)
            refs = (cmd.reference, cmd.ref_tx_id)
            return "award", _fingerprint("award", *common, *fields, *refs)
        case _:
            assert_never(cmd)


def _selection(market: str, value: str, amount: Decimal | None) -> dict[str, str]:
    pick = {"market": market, "value": value}
    if amount is not None:
        pick["amount"] = str(amount)
    return pick


def _reply(
    tx_ref: str,
    wallet: Wallet | None,
    kind: str,
    *,
    player: str = "",
    currency: str = "",
) -> dict[str, Any]:
    return {
        "tx_ref": tx_ref,
        "player": wallet.player if wallet else player,
        "currency": wallet.currency if wallet else currency,
        "balance": wallet.balance if wallet else Decimal(0),
        "available": wallet.available if wallet else Decimal(0),
        "kind": kind,
        "absorbed": False,
    }


def _balance(wallet: Wallet) -> Balance:
    return Balance(
        player=wallet.player,
        currency=wallet.currency,
        balance=wallet.balance,
        held=wallet.held,
        available=wallet.available,
    )


def _expected(bet: Bet, round_: Round | None) -> Decimal | None:
    """The ledger's own payout for `bet` from its round's declared result, if it has one."""
    if round_ is None:
        return None
    return _expected_for(bet, round_.result, round_.game)


def _expected_for(bet: Bet, result: Mapping[str, str], game: str) -> Decimal | None:
    return expected_payout(
        bet.selections,
        bet.stake,
        bet.currency,
        result,
        game=bet.game or game,
        bet_id=bet.bet_id,
    )


def _late_checks(
    bets: Iterable[Bet], result: Mapping[str, str], game: str
) -> dict[str, tuple[Decimal | None, bool]]:
    """Bets the provider settled before the result reached the ledger, checked now as they
    were credited: per credit, what it paid against the sum of the expected payouts."""
    credits: dict[str, list[Bet]] = {}
    for bet in bets:
        if bet.status == BetStatus.SETTLED and bet.expected_payout is None and result:
            credits.setdefault(bet.settled_by or bet.key, []).append(bet)
    checks: dict[str, tuple[Decimal | None, bool]] = {}
    for covered in credits.values():
        expected = [_expected_for(bet, result, game) for bet in covered]
        known = [e for e in expected if e is not None]
        paid = sum((bet.payout for bet in covered), Decimal(0))
        flagged = len(known) == len(covered) and sum(known, Decimal(0)) != paid
        for bet, own in zip(covered, expected, strict=True):
            checks[bet.key] = (own, flagged)
    return checks


def _only_closes(cmd: Credit, wallet: Wallet) -> bool:
    """`cmd` pays nothing, names no bet and closes a round where `wallet` holds no bet."""
    if not cmd.closes_round or cmd.amount or cmd.bet_id or not cmd.round_id:
        return False
    round_key = round_uuid(cmd.provider, cmd.round_id).hex
    return round_key not in wallet.hold_rounds.values()


def _share_credit(
    amount: Decimal, bets: list[Bet], expected: list[Decimal | None], currency: str
) -> tuple[list[Decimal], bool | None]:
    """Each bet's part of a provider credit, and whether the credit is flagged.

    One bet takes the whole credit and is cross-checked on its own (None). A credit covering
    several bets (10 on red and 10 on black, paid 20) is checked against the sum of their
    expected payouts: when it matches, each bet gets its own expected payout; when it differs,
    the credit is shared pro rata to stake and every bet it covers is flagged; when a payout
    cannot be computed, it is shared pro rata and checked once the result is known.
    """
    if len(bets) == 1:
        return [amount], None
    stakes = [bet.stake for bet in bets]
    known = [e for e in expected if e is not None]
    if len(known) < len(bets):
        return _split(amount, stakes, currency), False
    if sum(known, Decimal(0)) == amount:
        return known, False
    return _split(amount, stakes, currency), True


def _split(amount: Decimal, stakes: list[Decimal], currency: str) -> list[Decimal]:
    """Share a round-level credit over the player's bets pro rata to stake, exactly."""
    if len(stakes) == 1:
        return [amount]
    unit = money.quantum(currency)
    total = sum(stakes, Decimal(0))
    shares = [(amount * stake / total).quantize(unit, rounding="ROUND_DOWN") for stake in stakes]
    shares[-1] += amount - sum(shares, Decimal(0))
    return shares


def round_state_of(
    provider: str,
    round_id: str,
    round_: Round | None,
    book: RoundBook | None,
    bets: list[Bet],
    bridge_settled: bool,
) -> RoundState:
    """The round as the ledger tells it (`Ledger.round_state`), from its aggregates as
    loaded: the provider's `round_`, its `book` and its `bets` in log order."""
    result = round_.result if round_ else {}
    views = bet_views(bets, result, round_.game if round_ else "")
    status = RoundStatus(round_.status) if round_ else RoundStatus.UNKNOWN
    if status is RoundStatus.RESULT and book is not None and book.settled:
        status = RoundStatus.SETTLED
    book_flags = tuple(book.audit_flags) if book else ()
    known = RoundState(provider=provider, round_id=round_id, status=status, bets=views)
    if round_ is None:
        # Without game events (a provider with no feed) the first bet names the table
        # and the game, as the dispute view shows them.
        return msgspec.structs.replace(
            known,
            table=bets[0].table if bets else "",
            game=bets[0].game if bets else "",
            audit_flags=book_flags,
            bridge_settled=bridge_settled,
        )
    return msgspec.structs.replace(
        known,
        bridge_settled=bridge_settled,
        table=round_.table,
        game=round_.game,
        closes_at=datetime.fromisoformat(round_.closes_at) if round_.closes_at else None,
        last_seq=max((int(s) for s in round_.events), default=0),
        result=dict(round_.result),
        round_hash=round_.round_hash,
        digest=round_.digest,
        verification=Verification(round_.verification),
        audit_flags=(*round_.audit_flags, *book_flags),
        void_cause=round_.void_cause,
    )


def bet_views(bets: list[Bet], result: Mapping[str, str], game: str) -> tuple[BetView, ...]:
    """The views of a round's bets, each provider credit cross-checked as a whole."""
    checks = _late_checks(bets, result, game)
    return tuple(_bet_view(bet, checks.get(bet.key)) for bet in bets)


def _bet_view(bet: Bet, late_check: tuple[Decimal | None, bool] | None) -> BetView:
    expected, flagged = late_check or (bet.expected_payout, bet.flagged)
    return BetView(
        bet_key=bet.key,
        provider=bet.provider,
        bet_id=bet.bet_id,
        player=bet.player,
        currency=bet.currency,
        stake=bet.stake,
        status=BetStatus(bet.status),
        outcome=Outcome(bet.outcome) if bet.outcome else None,
        payout=bet.payout if bet.status != BetStatus.OPEN else Decimal(0),
        expected_payout=expected,
        flagged=flagged,
        cause=bet.cause,
        late=bet.cause == "LATE_BET",
    )
