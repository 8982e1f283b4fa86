"""A round read from the log alone: its events by aggregate, and the record they make.

Replay uses these when it must not trust the view: to find every wallet movement of a
round's bets (the view may have lost one), and to show a round the view has not got at
all. The round's events are those of its `Round` aggregate, of each bet its `RoundBook`
lists, the book's audit flags (`RoundBook.BetFlagged`), and the wallet events that name
one of those bets (`Wallet.StakeHeld`...).

A wallet event is written in the same atomic write as its bet's event. On JetStream a
bet's wallet events are found in its events' writes (`written_with`): each aggregate is
read on its own subject, each write by position, and no wallet is read at all. Another
store (the library's in-memory one, in tests) is scanned instead: a write spans at most
`MAX_BATCH` log positions, so a bet's wallet events lie within that distance of the
bet's own events (`window`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Notification
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from projections.rounds.projection import WALLET_BET_EVENTS
from projections.rounds.projection import RoundsProjection
from projections.rounds.projection import event_name
from projections.rounds.view import BET_DEFAULTS
from projections.rounds.view import ROUND_DEFAULTS
from projections.rounds.view import BetFields
from projections.rounds.view import RoundChange
from projections.rounds.view import RoundFields
from projections.rounds.view import RoundRecord
from projections.rounds.view import RoundsView
from projections.rounds.view import TimelineEntry
from projections.rounds.view import record_from_rows
from services.ledger.application import Ledger
from services.ledger.domain import Bet
from services.ledger.domain import book_uuid
from services.ledger.domain import project
from services.ledger.domain import round_uuid
from services.ledger.domain import topics_of
from services.ledger.rounds import RoundBook

MAX_BATCH = 1000
"""The most messages one atomic write holds (`services.eventstore.connection.MAX_BATCH`)."""
WALLET_TOPICS = frozenset(topics_of(*WALLET_BET_EVENTS))
FLAG_TOPIC = get_topic(RoundBook.BetFlagged)


def _on_jetstream(ledger: Ledger) -> bool:
    from services.eventstore import JetStreamApplicationRecorder

    return isinstance(ledger.recorder, JetStreamApplicationRecorder)


def _messages(ledger: Ledger, keys: Sequence[str]) -> list[list[Any]]:
    """Each aggregate's stored messages (keys: ids as hex), read at once (JetStream)."""
    from services.eventstore import JetStreamApplicationRecorder

    recorder = ledger.recorder
    assert isinstance(recorder, JetStreamApplicationRecorder)
    reader = recorder.reader

    async def read_all() -> list[list[Any]]:
        return list(await asyncio.gather(*(reader.aggregate_messages(UUID(k)) for k in keys)))

    return recorder.read(read_all())


async def written_with(
    recorder: Any, messages: Iterable[Any], known: Mapping[int, Any] | None = None
) -> list[Notification]:
    """The wallet events stored in the same writes as `messages` (JetStream), in log order.

    A bet's wallet events are written atomically with the bet's own events, so these are
    every wallet event that can move the money of the bets whose messages are given.
    `known`: messages already read, by position (not read again).
    """
    from services.eventstore import HEADER_TOPIC
    from services.eventstore import as_notification
    from services.eventstore import write_of

    one_each = {write_of(m)[0]: m for m in messages}
    reader = recorder.reader
    writes = await asyncio.gather(*(reader.write_containing(m, known) for m in one_each.values()))
    found = {
        m.seq: m for write in writes for m in write if m.find_header(HEADER_TOPIC) in WALLET_TOPICS
    }
    return [as_notification(found[seq]) for seq in sorted(found)]


def window(positions: Iterable[int]) -> tuple[int, int] | None:
    """The log positions where wallet events of bets with events at `positions` can be."""
    known = list(positions)
    if not known:
        return None
    return max(1, min(known) - MAX_BATCH + 1), max(known) + MAX_BATCH - 1


@dataclass(frozen=True, slots=True)
class Moved:
    """A wallet event that moves the money of bet `bet` (its key, hex)."""

    notification: Notification
    event: str
    bet: str


def wallet_events(ledger: Ledger, bets: set[str], span: tuple[int, int] | None) -> dict[int, Moved]:
    """The wallet events in `span` that move the money of one of `bets`, by scanning the
    log there (for stores without per-aggregate reads; on JetStream see `written_with`)."""
    if span is None or not bets:
        return {}
    lo, hi = span
    candidates = ledger.recorder.select_notifications(
        start=lo, limit=hi - lo + 1, stop=hi, topics=sorted(WALLET_TOPICS)
    )
    return naming(ledger, candidates, bets)


def naming(ledger: Ledger, candidates: Iterable[Notification], bets: set[str]) -> dict[int, Moved]:
    """The wallet events among `candidates` that move the money of one of `bets`."""
    found: dict[int, Moved] = {}
    # A wallet event names its bet by key in its stored JSON: when the state is stored as
    # it is (no cipher, no compressor), events that name none of `bets` are not decoded.
    plain = ledger.mapper.cipher is None and ledger.mapper.compressor is None
    named = [key.encode() for key in bets]
    for n in candidates:
        if n.topic not in WALLET_TOPICS:
            continue
        if plain and not any(key in n.state for key in named):
            continue
        moved: Any = ledger.mapper.to_domain_event(n)
        if moved.bet in bets:
            found[n.id] = Moved(n, event_name(moved), str(moved.bet))
    return found


def round_notifications(ledger: Ledger, provider: str, round_id: str) -> list[Notification]:
    """Every event of the round, its book's flags, its bets and their wallet movements, in
    log order."""
    if not _on_jetstream(ledger):
        return _scanned(ledger, provider, round_id)
    from services.eventstore import as_notification

    round_messages, book_messages = _messages(
        ledger, [round_uuid(provider, round_id).hex, book_uuid(provider, round_id).hex]
    )
    book_events = [as_notification(m) for m in book_messages]
    book = project(None, [ledger.mapper.to_domain_event(n) for n in book_events])
    keys: list[str] = list(book.bets) if isinstance(book, RoundBook) else []
    bet_messages = [m for messages in _messages(ledger, keys) for m in messages]
    recorder: Any = ledger.recorder
    candidates = recorder.read(written_with(recorder, bet_messages))
    moved = naming(ledger, candidates, set(keys))
    everything = [
        *(as_notification(m) for m in round_messages),
        *(n for n in book_events if n.topic == FLAG_TOPIC),
        *(as_notification(m) for m in bet_messages),
        *(m.notification for m in moved.values()),
    ]
    return sorted(everything, key=lambda n: n.id)


def _scanned(ledger: Ledger, provider: str, round_id: str) -> list[Notification]:
    """The round's events by reading the whole log (stores without per-aggregate reads)."""
    keep: set[UUID | str] = {round_uuid(provider, round_id)}
    book = book_uuid(provider, round_id)
    bets: set[str] = set()
    wallet_moves: list[Notification] = []
    found: list[Notification] = []
    position = 0
    while page := ledger.recorder.select_notifications(position + 1, 1000):
        for n in page:
            if n.originator_id in keep or (n.originator_id == book and n.topic == FLAG_TOPIC):
                found.append(n)
            elif n.topic == get_topic(Bet.Placed):
                e = ledger.mapper.to_domain_event(n)
                assert isinstance(e, Bet.Placed)
                if e.provider == provider and e.round_id == round_id:
                    keep.add(n.originator_id)
                    bets.add(e.originator_id.hex)
                    found.append(n)
            elif n.topic in WALLET_TOPICS:
                # A hold comes before its bet in the same write: decide at the end.
                wallet_moves.append(n)
        position = page[-1].id
    found += [m.notification for m in naming(ledger, wallet_moves, bets).values()]
    return sorted(found, key=lambda n: n.id)


class InMemoryRoundsView(RoundsView):
    """A rounds view that keeps nothing but what `apply` keeps: for folding one round's
    changes in memory. It serves no queries and tracks no position."""

    def apply(self, tracking: Tracking, changes: Sequence[RoundChange]) -> None:
        raise NotImplementedError

    def rounds(
        self, round_id: str, application_name: str, provider: str | None = None
    ) -> list[RoundRecord]:
        return []

    def insert_tracking(self, tracking: Tracking) -> None:
        pass

    def max_tracking_id(self, application_name: str) -> int | None:
        return None


class _Folded(InMemoryRoundsView):
    """Folds round changes the way the view's tables do (later fields win)."""

    def __init__(self) -> None:
        self.head: dict[str, Any] | None = None
        self.bets: dict[str, dict[str, Any]] = {}
        self.timeline: list[dict[str, Any]] = []

    def apply(self, tracking: Tracking, changes: Sequence[RoundChange]) -> None:
        for c in changes:
            if isinstance(c, RoundFields):
                head = self.head or {**ROUND_DEFAULTS, "position": 0}
                self.head = {**head, **c.fields, "position": max(head["position"], c.position)}
            elif isinstance(c, BetFields):
                bet = self.bets.get(c.bet_key) or {**BET_DEFAULTS, "bet_key": c.bet_key}
                position = max(bet.get("position", 0), c.position)
                self.bets[c.bet_key] = {**bet, **c.fields, "position": position}
            elif isinstance(c, TimelineEntry):
                self.timeline.append(
                    {
                        "position": c.position,
                        "event": c.event,
                        "server_time": c.server_time,
                        "originator_id": c.originator_id,
                        "originator_version": c.originator_version,
                        "provider_seq": c.provider_seq,
                        "video_timecode": c.video_timecode,
                        # As the view's jsonb gives it back.
                        "detail": msgspec.json.decode(msgspec.json.encode(c.detail)),
                    }
                )


def fold(
    ledger: Ledger,
    provider: str,
    round_id: str,
    notifications: Sequence[Notification],
    view_position: int,
) -> RoundRecord | None:
    """The record the view would hold for the round, from its events (None if none)."""
    folded = _Folded()
    projection = RoundsProjection(folded)
    for n in notifications:
        projection.process_event(ledger.mapper.to_domain_event(n), Tracking(ledger.name, n.id))
    bets = sorted(folded.bets.values(), key=lambda b: int(b["position"]))
    if folded.head is None and not bets:
        return None
    return record_from_rows(
        round_uuid(provider, round_id).hex,
        folded.head,
        bets,
        sorted(folded.timeline, key=lambda t: int(t["position"])),
        view_position,
    )
