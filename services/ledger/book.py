"""The round book: one ordered follower of the ledger's notification log (I5, voids, settlement).

Bets never write to their round, so only the log says whether a bet came before or after
betting closed. This follower reads bets, bet resolutions and round events in log order,
books them into `RoundBook` aggregates, and acts on what it sees:

- a bet the log put after its round closed (BettingClosed, a result, a void, or a provider
  wallet transaction that closed it: `Round.ClosedByTransaction`) is refunded with cause
  LATE_BET;
- a voided round refunds every bet once, with the void's cause;
- a bridge-settled round is settled from the declared result, every bet by the payout rules.

Actions run before the book and cursor are saved, and each is idempotent on the bet's state
(settled or refunded once, I4): a crash or a lost race replays them harmlessly. Money moves
in batches of at most `CHUNK` bets per atomic save (a save holds at most 1,000 events). The
book marks the bets it acted on resolved at once (`RoundBook.resolve_here`) and skips its
own writes when it reads on (`own_writes`): a hot table's settlement is one pass, not one
read of every payout it just wrote. Another process's bet landing between those writes is
read and booked as ever (late: refunded).

`RoundBookFollower` owns what the follower remembers (how far it read, the bets it booked
on time and their placed events); the ledger runs it after a result or a void, and a
service keeps it current in a thread (`Ledger.follow_round_book`).

An action the ledger refuses (a void reversing a provider-paid win the player has spent:
INSUFFICIENT_FUNDS) never passes silently: the round's book records an audit flag naming
the bet (`VOID_UNRECOVERABLE`, `LATE_BET_UNRECOVERABLE`, `SETTLEMENT_FAILED`), listed in
`RoundState.audit_flags`, and the bet stays as it was for operations to resolve by hand.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TypeVar
from typing import assert_never
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Recording

from contracts.events import BettingClosed
from contracts.events import BettingOpened
from contracts.events import GameEvent
from contracts.events import ResultDeclared
from contracts.events import RoundVoided
from services.ledger.base import LedgerBase
from services.ledger.domain import BET_EVENTS
from services.ledger.domain import Bet
from services.ledger.domain import Wallet
from services.ledger.domain import project
from services.ledger.domain import round_uuid
from services.ledger.domain import topics_of
from services.ledger.domain import wallet_id
from services.ledger.errors import LedgerRefused
from services.ledger.payouts import expected_payout
from services.ledger.rounds import Booked
from services.ledger.rounds import Round
from services.ledger.rounds import RoundBook
from services.ledger.rounds import decode_provider_event
from services.ledger.settlement import refund_bet
from services.ledger.settlement import settle_bet
from services.ledger.views import BetStatus

log = logging.getLogger(__name__)

TOPICS = frozenset(topics_of(*BET_EVENTS, Round.EventRecorded, Round.ClosedByTransaction))
CHUNK = 300
"""Bets per atomic save: a settlement writes 3 events per bet, so 900 at most."""
READERS = 16
"""Threads loading a chunk's bets and wallets at once (the connection multiplexes)."""
REMEMBERED_BETS = 20_000
"""Open bets the book remembers by default (`LEDGER_REMEMBERED_BETS`): their placed events
and that they were booked on time; `PLACED_BET_BYTES` each at most."""
DRAIN_PATIENCE = 10.0
"""Seconds `drain` waits for the replica it reads from to reach the log's head."""
PLACED_BET_BYTES = 2_500
"""Measured (tests/unit/ledger/test_memory_bounds.py): a remembered bet, its placed event
with three selections and its two map entries, about 2,250 bytes."""


class RoundBookFollower:
    """The round book's follower: reads the log in order and acts on it, one pass at a time.

    It owns what it remembers: how far it has read (`scanned`, in memory, past the book's
    own writes, which are never saved for alone), the open bets it booked before their
    round closed (`booked_bets`) and their placed events (`placed_bets`), each bounded by
    `remembered` (the oldest forgotten first, a resolved bet at once).
    """

    def __init__(self, ledger: LedgerBase, remembered: int = REMEMBERED_BETS) -> None:
        self.ledger = ledger
        self.remembered = remembered
        self.scanned = 0
        """How far this process's round book has read the log, relevant or not."""
        self.booked_bets: OrderedDict[UUID, None] = OrderedDict()
        """Open bets this process's round book booked before their round closed."""
        self.placed_bets: OrderedDict[UUID, Bet.Placed] = OrderedDict()
        """The placed events of the open bets it booked: see `_remember`."""
        self.own_writes: list[tuple[int, int]] = []
        """First and last positions of the book's own writes not yet read past, in order:
        skipped unread, since the book marked their bets resolved as it wrote them."""
        self._writing: list[tuple[int, int]] = []
        """Positions of the current pass's writes, kept once its book is saved."""
        self._lock = threading.Lock()

    def booked(self, bet_id: UUID) -> bool:
        """Whether this process's round book booked `bet_id` before its round closed."""
        return bet_id in self.booked_bets

    def drain(self) -> int:
        """Apply every notification stored before this call to the round book; the number
        applied.

        It reads up to the log's head as the stream's leader knows it, not merely until a
        read comes back empty: on a cluster any replica answers a read, and one that is
        behind (a node just healed from a partition, catching up) answers with less, so a
        round read after such a drain listed 10 of its 35 stored bets. A replica still
        behind after `DRAIN_PATIENCE` s is given up on, with a warning.
        """
        head = self.ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + DRAIN_PATIENCE
        total = 0
        while True:
            applied = self.follow_once()
            total += applied
            if applied:
                continue
            reached = max(self.ledger.load_book_cursor().position, self.scanned)
            if reached >= head:
                return total
            if time.monotonic() > deadline:
                log.warning(
                    "round book: the log reads up to %d of %d after %.0f s (a replica behind "
                    "its leader); going on with what it read",
                    reached,
                    head,
                    DRAIN_PATIENCE,
                )
                return total
            time.sleep(0.05)

    def follow_once(self, limit: int = 900) -> int:
        """Apply the next notifications (at most `limit`) to the round book."""
        with self._lock:
            try:
                return self.ledger._retrying("round book", lambda n: self._follow(limit))
            except BaseException:
                # Re-read from the saved cursor, own writes included: the book that marked
                # their bets resolved may not have been saved.
                self.scanned = 0
                self.own_writes.clear()
                raise
            finally:
                self._writing.clear()

    def follow(self, stop: threading.Event, poll_interval: float = 0.05) -> None:
        """Keep the round book current until `stop` is set (run it in a thread)."""
        while not stop.is_set():
            if not self.follow_once():
                stop.wait(poll_interval)

    def _follow(self, limit: int) -> int:
        """Apply the next `limit` notifications at most; the number read (0: caught up)."""
        ledger = self.ledger
        cursor = ledger.load_book_cursor()
        # Read everything and skip by topic: the cursor then moves past wallet events too, and
        # `scanned` (in memory) past the book's own writes, never saved for alone.
        start = self._past_own_writes(max(cursor.position, self.scanned) + 1)
        scanned = ledger.recorder.select_notifications(start, limit)
        if not scanned:
            self.scanned = start - 1
            return 0
        notifications = [n for n in scanned if n.topic in TOPICS and not self._own(n.id)]
        if not notifications:
            self.scanned = scanned[-1].id
            return len(scanned)
        books: dict[UUID, RoundBook] = {}
        late: list[tuple[RoundBook, UUID]] = []
        on_time: list[UUID] = []
        voided: list[RoundBook] = []
        results: list[RoundBook] = []
        resolved: set[UUID] = set()

        def book_of(provider: str, round_id: str) -> RoundBook:
            found = books.get(RoundBook.create_id(provider, round_id))
            if found is None:
                found = ledger.find(RoundBook, RoundBook.create_id(provider, round_id))
                found = found or RoundBook(provider=provider, round_id=round_id)
                books[found.id] = found
            return found

        for notification in notifications:
            position = notification.id
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, Bet.Placed):
                self._remember(event)
                book = book_of(event.provider, event.round_id)
                if book.book_bet(position, event.originator_id.hex):
                    late.append((book, event.originator_id))
                else:
                    on_time.append(event.originator_id)
            elif isinstance(event, Bet.Settled | Bet.Refunded | Bet.Reopened):
                placed = self.placed_bets.get(event.originator_id)
                if not isinstance(event, Bet.Reopened):
                    resolved.add(event.originator_id)
                if placed is not None:
                    where = (placed.provider, placed.round_id)
                else:
                    bet = ledger.bet(event.originator_id)
                    where = (bet.provider, bet.round_id)
                if isinstance(event, Bet.Reopened):
                    book_of(*where).reopen_bet(position, event.originator_id.hex)
                else:
                    book_of(*where).resolve_bet(position, event.originator_id.hex)
            elif isinstance(event, Round.ClosedByTransaction):
                ledger.known_rounds.learn(event)
                book_of(event.provider, event.round_id).close(position)
            elif isinstance(event, Round.EventRecorded):
                provider_event = decode_provider_event(event.raw)
                ledger.known_rounds.see(provider_event)
                book = book_of(provider_event.provider, provider_event.round_id)
                match provider_event:
                    case BettingClosed():
                        book.close(position)
                    case ResultDeclared():
                        book.see_result(position, provider_event.result)
                        if provider_event.provider in ledger.bridge_settled:
                            results.append(book)
                    case RoundVoided():
                        book.see_void(position, provider_event.cause)
                        voided.append(book)
                    case BettingOpened() | GameEvent():
                        pass
                    case _:
                        assert_never(provider_event)

        actions: list[tuple[RoundBook, str, list[UUID], Action]] = []
        for book, bet_id in late:
            refund_late = functools.partial(_refund, cause="LATE_BET")
            actions.append((book, "LATE_BET_UNRECOVERABLE", [bet_id], refund_late))
        for book in voided:
            targets = [UUID(key) for key in book.bets]  # settled ones are reversed
            refund = functools.partial(_refund, cause=book.void_cause)
            actions.append((book, "VOID_UNRECOVERABLE", targets, refund))
        for book in results:
            if not book.void_cause:
                result = dict(book.result)
                targets = [UUID(key) for key in book.open_bets()]
                settle = functools.partial(_settle, result=result)
                actions.append((book, "SETTLEMENT_FAILED", targets, settle))
        for book, flag, targets, action in actions:
            acted, refusals = self._apply(targets, action)
            book.resolve_here([bet_id.hex for bet_id in acted])
            resolved.update(acted)
            _flag(book, flag, refusals)

        cursor.advance(scanned[-1].id)
        self._note_writes(ledger.save(*books.values(), cursor))
        self.own_writes.extend(self._writing)
        self.own_writes.sort()
        self.scanned = scanned[-1].id
        for bet_id in on_time:
            self.booked_bets[bet_id] = None
        for bet_id in resolved:
            # Settled or refunded: what the book remembered of it serves no more (a later
            # action on it, a void's reversal say, reads it).
            self.placed_bets.pop(bet_id, None)
            self.booked_bets.pop(bet_id, None)
        _bound(self.booked_bets, self.remembered)
        # A round with its result or void and every bet resolved is done: its round and book
        # leave the aggregate cache now rather than when it is full (a late event reads them).
        ledger.repository.forget(
            aggregate_id
            for done in books.values()
            if (done.result or done.void_cause)
            and all(s == Booked.DONE for s in done.bets.values())
            for aggregate_id in (done.id, round_uuid(done.provider, done.round_id))
        )
        return len(scanned)

    def _past_own_writes(self, start: int) -> int:
        """`start`, or the position after the own writes that begin there; own writes
        wholly before it are forgotten."""
        while self.own_writes and self.own_writes[0][0] <= start:
            _, last = self.own_writes.pop(0)
            if start <= last:
                start = last + 1
        return start

    def _own(self, position: int) -> bool:
        return any(first <= position <= last for first, last in self.own_writes)

    def _note_writes(self, recordings: list[Recording[UUID]]) -> None:
        """Keep the positions of a write of the book's, when they run unbroken (an atomic
        batch's do; a recorder that interleaves writes is simply read back)."""
        ids = sorted(r.notification.id for r in recordings)
        if ids and ids[-1] - ids[0] + 1 == len(ids):
            self._writing.append((ids[0], ids[-1]))

    def _remember(self, placed: Bet.Placed) -> None:
        """Keep a bet's first event until it is resolved: its round is then known, and an
        untouched bet is rebuilt without a read (a stale one makes the save conflict, and the
        retry reads it). The oldest are forgotten past `self.remembered`."""
        self.placed_bets[placed.originator_id] = placed
        _bound(self.placed_bets, self.remembered)

    def _recalled(self, bet_id: UUID) -> Bet:
        placed = self.placed_bets.get(bet_id)
        if placed is None:
            return self.ledger.bet(bet_id)
        bet = project(None, [placed])
        assert isinstance(bet, Bet)
        return bet

    def _apply(self, bet_ids: list[UUID], action: Action) -> Acted:
        """Run `action` on each bet and its wallet, CHUNK bets per atomic save, retrying.

        Each chunk is first acted on with bets as the book saw them placed and wallets as
        this process last saved them, and saved by one saver thread while the next chunk is
        acted on (a chunk touching a wallet still being saved waits for that save). A chunk
        whose save conflicts, or whose action is refused on what may be stale, is done again
        on fresh reads once the others are saved. Returns the bets acted on (saved), and
        those the ledger refused to act on.
        """
        acted: list[UUID] = []
        refusals: list[tuple[Bet, LedgerRefused]] = []
        saving: list[tuple[_Prepared, Future[list[Recording[UUID]]]]] = []
        again: list[list[UUID]] = []

        def after_saves_of(wallets: set[UUID]) -> None:
            for prepared, saved in saving:
                if not wallets.isdisjoint(w.id for w in prepared.wallets):
                    saved.exception()  # waits; a failed save is done again below

        with ThreadPoolExecutor(1, thread_name_prefix="round-book-save") as saver:
            for start in range(0, len(bet_ids), CHUNK):
                chunk = bet_ids[start : start + CHUNK]
                try:
                    prepared = self._act(chunk, action, recall=True, waiting=after_saves_of)
                except IntegrityError:
                    again.append(chunk)
                    continue
                if prepared.changed:
                    saved = saver.submit(self.ledger.save, *prepared.wallets, *prepared.changed)
                    saving.append((prepared, saved))
        for prepared, saved in saving:
            try:
                self._note_writes(saved.result())
            except IntegrityError:
                again.append(prepared.chunk)
                continue
            acted += [bet.id for bet in prepared.changed]
        for chunk in again:
            done, refused = self._apply_fresh(chunk, action)
            acted += done
            refusals += refused
        return acted, refusals

    def _apply_fresh(self, bet_ids: list[UUID], action: Action) -> Acted:
        """Act on `bet_ids` on fresh reads, in one save, twice at most; then one bet per save,
        each with the ledger's full retry budget (a busy wallet keeps winning)."""
        for _ in range(2):
            with contextlib.suppress(IntegrityError):
                return self._apply_chunk(bet_ids, action, recall=False)
        acted: list[UUID] = []
        refusals: list[tuple[Bet, LedgerRefused]] = []
        for bet_id in bet_ids:
            done, refused = self.ledger._retrying(
                f"round book action on bet {bet_id}",
                lambda n, b=bet_id: self._apply_chunk([b], action, recall=False),
            )
            acted += done
            refusals += refused
        return acted, refusals

    def _apply_chunk(self, bet_ids: list[UUID], action: Action, *, recall: bool) -> Acted:
        prepared = self._act(bet_ids, action, recall=recall)
        if prepared.changed:
            self._note_writes(self.ledger.save(*prepared.wallets, *prepared.changed))
        return [bet.id for bet in prepared.changed], prepared.refusals

    def _act(
        self,
        bet_ids: list[UUID],
        action: Action,
        *,
        recall: bool,
        waiting: Callable[[set[UUID]], None] | None = None,
    ) -> _Prepared:
        """`action` on each bet and its wallet in memory; `waiting` is told the wallets
        before they are loaded. With `recall`, a refusal raises `IntegrityError`."""
        ledger = self.ledger
        if recall:
            # The first attempt takes bets as the book saw them placed, and wallets as this
            # process last saw them: a stale one makes the save conflict, and a refusal is
            # retried on fresh reads (below). What is in memory needs no thread.
            bets = _load(bet_ids, self._recalled, self.placed_bets.__contains__)
        else:
            bets = _load(bet_ids, ledger.bet)
        keys = [wallet_id(bet.player, bet.currency) for bet in bets]
        wanted = list(dict.fromkeys(keys))
        if waiting is not None:
            waiting(set(wanted))
        if recall:
            find = functools.partial(ledger.find, Wallet, trusted=True)
            found = _load(wanted, find, ledger.repository.holds)
        else:
            found = _load(wanted, functools.partial(ledger.find, Wallet))
        wallets = {w.id: w for w in found if w is not None}
        prepared = _Prepared(bet_ids, list(wallets.values()))
        for bet, key in zip(bets, keys, strict=True):
            wallet = wallets.get(key)
            if wallet is None:
                continue
            try:
                if action(wallet, bet):
                    prepared.changed.append(bet)
            except LedgerRefused as refused:
                if recall:
                    # Decided on the bet as placed, which may be stale: read everything again.
                    raise IntegrityError(f"bet {bet.bet_id} moved since it was booked") from refused
                log.warning("round book could not act on bet %s: %s", bet.bet_id, refused)
                prepared.refusals.append((bet, refused))
        return prepared


@dataclass
class _Prepared:
    """A chunk of bets acted on in memory, not yet saved."""

    chunk: list[UUID]
    wallets: list[Wallet]
    changed: list[Bet] = field(default_factory=list)
    refusals: list[tuple[Bet, LedgerRefused]] = field(default_factory=list)


def _bound(remembered: OrderedDict[UUID, Any], size: int) -> None:
    while len(remembered) > size:
        remembered.popitem(last=False)


def _refund(wallet: Wallet, bet: Bet, cause: str) -> bool:
    if bet.status == BetStatus.REFUNDED:
        return False
    refund_bet(wallet, bet, cause)
    return True


def _settle(wallet: Wallet, bet: Bet, result: dict[str, str]) -> bool:
    if bet.status != BetStatus.OPEN:
        return False
    payout = expected_payout(
        bet.selections, bet.stake, bet.currency, result, game=bet.game, bet_id=bet.bet_id
    )
    if payout is None:
        log.warning(
            "bet %s/%s in round %s: no payout rule for %s on %s; left open for the provider",
            bet.provider,
            bet.bet_id,
            bet.round_id,
            bet.selections,
            result,
        )
        return False
    settle_bet(wallet, bet, payout, payout, "")
    return True


def _flag(book: RoundBook, kind: str, refusals: list[tuple[Bet, LedgerRefused]]) -> None:
    for bet, refused in refusals:
        book.flag_bet(
            bet.key,
            f"{kind}: bet {bet.provider}/{bet.bet_id} of player {bet.player!r} stays "
            f"{bet.status.lower()}: {refused}; resolve it by hand",
        )


Action = Callable[[Wallet, Bet], bool]
Acted = tuple[list[UUID], list[tuple[Bet, LedgerRefused]]]
"""The bets an action was saved on, and those the ledger refused it."""
T = TypeVar("T")


def _load(
    ids: list[UUID], load: Callable[[UUID], T], in_memory: Callable[[UUID], bool] | None = None
) -> list[T]:
    """`load` each id: those `in_memory` in this thread, the others READERS at a time (their
    reads wait on the server; the connection multiplexes them)."""
    loaded = {i: load(i) for i in ids if in_memory is not None and in_memory(i)}
    rest = [i for i in ids if i not in loaded]
    if rest:
        with ThreadPoolExecutor(min(READERS, len(rest))) as pool:
            loaded.update(zip(rest, pool.map(load, rest), strict=True))
    return [loaded[i] for i in ids]
