"""Replay one round for a dispute: the view's account, checked against the log itself.

`replay_round` reads the round from the view, then rebuilds it from the log without the
view's help and compares:

- **header and bets** against the round as the ledger models it (`Ledger.round_state`'s
  rules), built from the round's aggregates loaded by id: the `Round`, its `RoundBook`
  and each `Bet` (those the book lists and those the view lists);
- **timeline**: every event the view lists is read back from the log at its position,
  decoded, and run through the same projection code: name, aggregate, version, provider
  seq, video timecode, server time and details must all match. On JetStream the reads
  are one burst of direct gets on exact subjects (the round's, its book's and each bet's
  whole subject, each wallet's from the first listed position), all in flight at once;
  elsewhere, nearby positions are read together through `select_notifications`;
- **completeness**: the view must list as many events of the round and of each bet as
  those aggregates have versions, each audit flag of the round's book
  (`RoundBook.BetFlagged`), and every wallet event that moves a bet's money (each wallet
  read around its bets' events, `projections.rounds.fromlog`).

A round the view has not got (`replay_from_log`) is read from the log alone, by the ids
the ledger gives the round, its book and its bets, and shown with a difference that says
the view lacks it.

Nothing scans the log: the cost is a handful of reads by id or position, whatever the
size of the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.projection import Projection

from projections.rounds.fromlog import (
    InMemoryRoundsView,
    Moved,
    fold,
    naming,
    read_subject,
    round_notifications,
    wallet_events,
    window,
)
from projections.rounds.projection import RoundsProjection
from projections.rounds.view import (
    BetItem,
    RoundChange,
    RoundRecord,
    RoundsView,
    TimelineEntry,
    TimelineItem,
)
from services.ledger.application import Ledger, bet_views
from services.ledger.domain import Bet, book_uuid, wallet_id
from services.ledger.rounds import Round, RoundBook
from services.ledger.views import BetView, RoundState, RoundStatus, Verification

_pool: ThreadPoolExecutor | None = None


def _reads() -> ThreadPoolExecutor:
    """Reads by id and by position go out together: a replay costs the slowest, not the sum."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="replay-read")
    return _pool


SHOWN_ELSEWHERE = frozenset({"type", "round_hash", "digest"})
"""Detail keys the text timeline leaves out: the event name and the hash check say them."""

NEARBY = 3
"""Positions closer than this are read in one request (a read costs per message)."""


class _Collector(InMemoryRoundsView):
    """A view that only keeps what the projection would write (for one event at a time)."""

    def __init__(self) -> None:
        self.changes: list[RoundChange] = []

    def apply(self, tracking: Tracking, changes: Sequence[RoundChange]) -> None:
        self.changes.extend(changes)


@dataclass
class Replay:
    """One round as the view has it, and what rebuilding it from the log found."""

    record: RoundRecord
    state: RoundState
    differences: list[str] = field(default_factory=list)
    events_read: int = 0

    @property
    def agrees(self) -> bool:
        return not self.differences


def _runs(positions: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for position in sorted(positions):
        if runs and position - runs[-1][-1] < NEARBY:
            runs[-1].append(position)
        else:
            runs.append([position])
    return runs


def _read_run(ledger: Ledger, run: list[int]) -> dict[int, Notification]:
    wanted = set(run)
    return {
        n.id: n
        for n in ledger.recorder.select_notifications(
            start=run[0], limit=run[-1] - run[0] + 1, stop=run[-1]
        )
        if n.id in wanted
    }


def _on_jetstream(ledger: Ledger) -> bool:
    from services.eventstore.recorders import JetStreamApplicationRecorder

    return isinstance(ledger.recorder, JetStreamApplicationRecorder)


def _read_jetstream(ledger: Ledger, items: Sequence[TimelineItem]) -> dict[int, Notification]:
    """Each listed event read at its position on its aggregate's subject, all at once.

    A direct get on the exact subject from the listed sequence answers with the first
    message of that aggregate at or after it: the listed event if the view is right. (A
    read on the whole stream's wildcard costs milliseconds on a big stream; this does not.)
    """
    from services.eventstore.recorders import (
        HEADER_TOPIC,
        HEADER_VERSION,
        JetStreamApplicationRecorder,
        aggregate_token,
        originator_from_token,
    )

    recorder = ledger.recorder
    assert isinstance(recorder, JetStreamApplicationRecorder)
    connection = recorder.connection

    async def read_all() -> list[tuple[list[Any], int]]:
        return await asyncio.gather(
            *(
                connection.get_batch(
                    recorder.stream,
                    f"{recorder.stream}.e.{aggregate_token(UUID(item.originator_id))}",
                    item.position,
                    1,
                )
                for item in items
            )
        )

    found: dict[int, Notification] = {}
    for item, (messages, _) in zip(items, connection.call(read_all()), strict=True):
        for message in messages[:1]:
            if message.seq == item.position:
                found[message.seq] = Notification(
                    id=message.seq,
                    originator_id=originator_from_token(message.subject.rsplit(".", 1)[1]),
                    originator_version=int(message.headers[HEADER_VERSION]),
                    topic=message.headers[HEADER_TOPIC],
                    state=message.data,
                )
    return found


def _entry_as_item(entry: TimelineEntry) -> TimelineItem:
    detail: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(entry.detail))
    return TimelineItem(
        position=entry.position,
        event=entry.event,
        server_time=entry.server_time,
        originator_id=entry.originator_id,
        originator_version=entry.originator_version,
        provider_seq=entry.provider_seq,
        video_timecode=entry.video_timecode,
        detail=detail,
    )


def check_timeline(
    ledger: Ledger, record: RoundRecord, notifications: dict[int, Notification]
) -> list[str]:
    """Re-derive every timeline line from the event read back at its log position."""
    problems: list[str] = []
    collector = _Collector()
    projection: Projection[RoundsView] = RoundsProjection(collector)
    for item in record.timeline:
        notification = notifications.get(item.position)
        if notification is None:
            problems.append(
                f"timeline: the log has no event of {item.originator_id} at position "
                f"{item.position}"
            )
            continue
        collector.changes.clear()
        domain_event = ledger.mapper.to_domain_event(notification)
        projection.process_event(domain_event, Tracking(ledger.name, item.position))
        entries = [c for c in collector.changes if isinstance(c, TimelineEntry)]
        if len(entries) != 1:
            problems.append(
                f"timeline: log position {item.position} holds {type(domain_event).__qualname__}"
                ", which is not a round event"
            )
            continue
        from_log = _entry_as_item(entries[0])
        if from_log != item:
            problems.append(f"timeline at {item.position}: view {item!r} but log {from_log!r}")
    return problems


def check_completeness(record: RoundRecord, log: LogRound) -> list[str]:
    """The view lists every event of the round and of each bet (as many as their versions)
    and each audit flag of the round's book."""
    problems: list[str] = []
    counts: dict[str, int] = {}
    for item in record.timeline:
        counts[item.originator_id] = counts.get(item.originator_id, 0) + 1
    if log.round_ is not None and counts.get(log.round_.id.hex, 0) != log.round_.version:
        problems.append(
            f"timeline lists {counts.get(log.round_.id.hex, 0)} events of the round; "
            f"the log has {log.round_.version}"
        )
    book_key = book_uuid(record.provider, record.round_id).hex
    flags = len(log.book.audit_flags) if log.book else 0
    if counts.get(book_key, 0) != flags:
        problems.append(
            f"timeline lists {counts.get(book_key, 0)} audit flags of the round book; "
            f"the log has {flags}"
        )
    for bet in record.bets:
        found = log.bets.get(bet.bet_key)
        if found is None:
            problems.append(f"bet {bet.bet_id}: not in the log")
        elif counts.get(bet.bet_key, 0) != found.version:
            problems.append(
                f"bet {bet.bet_id}: timeline lists {counts.get(bet.bet_key, 0)} events, "
                f"the log has {found.version}"
            )
    owners = {record.round_key, book_key, *(b.bet_key for b in record.bets), *log.bets}
    listed = {item.position for item in record.timeline if item.originator_id not in owners}
    bet_ids = {
        **{k: b.bet_id for k, b in log.bets.items()},
        **{b.bet_key: b.bet_id for b in record.bets},
    }
    for position, moved in sorted(log.wallet_events.items()):
        if position not in listed:
            problems.append(
                f"timeline lacks {moved.event} of bet {bet_ids.get(moved.bet, moved.bet)} "
                f"at log position {position}"
            )
    for position in sorted(listed - log.wallet_events.keys()):
        if position in log.notifications:
            problems.append(
                f"timeline lists a wallet event at log position {position} that moves none "
                "of the round's bets' money"
            )
    return problems


@dataclass
class LogRound:
    """A round's aggregates as loaded from the log by id, and its events read by position."""

    round_: Round | None
    book: RoundBook | None
    bets: dict[str, Bet]
    notifications: dict[int, Notification]
    wallet_events: dict[int, Moved] = field(default_factory=dict)
    """The log's wallet events that move the money of one of the round's bets."""


def load_from_log(ledger: Ledger, record: RoundRecord) -> LogRound:
    """The round's aggregates by id and its listed events by position, read concurrently."""
    if _on_jetstream(ledger):
        return _load_jetstream(ledger, record)
    pool = _reads()

    def find(cls: type[Any], key: str) -> Callable[[], Any]:
        return lambda: ledger.find(cls, UUID(key))

    round_f = pool.submit(find(Round, record.round_key))
    book_f = pool.submit(
        lambda: ledger.find(RoundBook, book_uuid(record.provider, record.round_id))
    )
    bet_fs: dict[str, Future[Any]] = {
        b.bet_key: pool.submit(find(Bet, b.bet_key)) for b in record.bets
    }
    runs = _runs([item.position for item in record.timeline])
    run_fs = [pool.submit(_read_run, ledger, run) for run in runs]
    book: RoundBook | None = book_f.result()
    for key in book.bets if book else {}:
        if key not in bet_fs:
            bet_fs[key] = pool.submit(find(Bet, key))
    notifications: dict[int, Notification] = {}
    for run_f in run_fs:
        notifications.update(run_f.result())
    found = {key: f.result() for key, f in bet_fs.items()}
    bets = {key: bet for key, bet in found.items() if bet is not None}
    keys = set(bets) | {b.bet_key for b in record.bets}
    wallets = {wallet_id(b.player, b.currency).hex for b in [*bets.values(), *record.bets]}
    span = window([b.position for b in record.bets] + _money_positions(record))
    moved = wallet_events(ledger, wallets, keys, span)
    notifications.update((p, m.notification) for p, m in moved.items())
    return LogRound(
        round_=round_f.result(),
        book=book,
        bets=bets,
        notifications=notifications,
        wallet_events=moved,
    )


def _load_jetstream(ledger: Ledger, record: RoundRecord) -> LogRound:
    """On JetStream, a few requests in flight at once, each on one aggregate's subject.

    The round's and each bet's whole subject (their events, with their sequences: the
    positions the view must show), and the subject of each wallet of the round's bets over
    the window where their money moved (`fromlog.window`). A direct get on an exact subject
    is cheap whatever the stream's size; reading whole aggregates also proves the
    positions of their events, and reading the wallets finds the movements the view lacks.
    """
    from services.eventstore.recorders import (
        HEADER_TOPIC,
        HEADER_VERSION,
        JetStreamApplicationRecorder,
        aggregate_token,
        originator_from_token,
    )

    recorder = ledger.recorder
    assert isinstance(recorder, JetStreamApplicationRecorder)
    connection, stream = recorder.connection, recorder.stream
    book_key = book_uuid(record.provider, record.round_id).hex
    book_read = 2 * len(record.bets) + 8  # started, booked and resolved per bet, closed...

    def subject(key: str) -> str:
        return f"{stream}.e.{aggregate_token(UUID(key))}"

    owners = [record.round_key, *(b.bet_key for b in record.bets)]
    listed = dict.fromkeys(owners, 0)
    wallets = dict.fromkeys((wallet_id(b.player, b.currency).hex for b in record.bets), 0)
    for item in record.timeline:
        if item.originator_id in listed:
            listed[item.originator_id] += 1
        elif item.originator_id != book_key:  # the book's flags come with the book's read
            wallets[item.originator_id] = wallets.get(item.originator_id, 0) + 1
    span = window([b.position for b in record.bets] + _money_positions(record))
    wallet_reads = sorted(wallets) if span else []

    # One more message than the view lists: a full answer means the log has more.
    async def read_all() -> list[Any]:
        return await asyncio.gather(
            *(connection.get_batch(stream, subject(k), 1, listed[k] + 1) for k in owners),
            connection.get_batch(stream, subject(book_key), 1, book_read),
            # The wallet's other events in the window are a few: guess small, page on.
            *(read_subject(recorder, w, *span, wallets[w] + 4) for w in wallet_reads if span),
        )

    def notification(message: Any) -> Notification:
        return Notification(
            id=message.seq,
            originator_id=originator_from_token(message.subject.rsplit(".", 1)[1]),
            originator_version=int(message.headers[HEADER_VERSION]),
            topic=message.headers[HEADER_TOPIC],
            state=message.data,
        )

    pages = connection.call(read_all())
    notifications: dict[int, Notification] = {}
    aggregates: dict[str, Any] = {}
    for key, (messages, _) in zip(owners, pages[: len(owners)], strict=True):
        if len(messages) > listed[key]:
            # The log has events of this aggregate the view does not list (completeness
            # will say so): load it whole, the usual way.
            aggregates[key] = ledger.find(Round if key == record.round_key else Bet, UUID(key))
            notifications.update((n.id, n) for n in (notification(m) for m in messages))
            continue
        read = [notification(m) for m in messages]
        notifications.update((n.id, n) for n in read)
        events = [ledger.mapper.to_domain_event(n) for n in read]
        aggregates[key] = project_aggregate(None, events) if events else None
    book_messages = pages[len(owners)][0]
    book: RoundBook | None
    if len(book_messages) >= book_read or (
        book_messages and book_messages[0].headers.get(HEADER_VERSION) != "1"
    ):
        # A long book (it may have a snapshot): load it the usual way.
        book = ledger.find(RoundBook, UUID(book_key))
    else:
        events = [ledger.mapper.to_domain_event(notification(m)) for m in book_messages]
        book = project_aggregate(None, events) if events else None
    wanted = {item.position for item in record.timeline}
    read_book = (notification(m) for m in book_messages)
    notifications.update((n.id, n) for n in read_book if n.id in wanted)
    read_wallets: list[Notification] = [n for page in pages[len(owners) + 1 :] for n in page]
    notifications.update((n.id, n) for n in read_wallets if n.id in wanted)
    bets = {key: aggregates[key] for key in owners[1:] if aggregates.get(key) is not None}
    for key in book.bets if book else {}:
        if key not in bets:
            found = ledger.find(Bet, UUID(key))
            if found is not None:
                bets[key] = found
    keys = set(bets) | {b.bet_key for b in record.bets}
    moved = naming(ledger, read_wallets, keys)
    # The log's bets may have moved money outside the window the view suggested (a bet
    # the view lacks, a settlement it never listed): read those wallets there too.
    bet_positions = [
        n.id
        for n in notifications.values()
        if n.originator_id.hex in keys  # type: ignore[union-attr]
    ]
    log_span = window(bet_positions)
    if log_span and (span is None or log_span[0] < span[0] or log_span[1] > span[1]):
        own = {wallet_id(b.player, b.currency).hex for b in bets.values()} | set(wallets)
        moved.update(wallet_events(ledger, own, keys, log_span))
    notifications.update((p, m.notification) for p, m in moved.items())
    missing = [i for i in record.timeline if i.position not in notifications]
    if missing:  # a wallet busy elsewhere between two listed events: read those one by one
        notifications.update(_read_jetstream(ledger, missing))
    round_ = aggregates.get(record.round_key)
    return LogRound(
        round_=round_ if isinstance(round_, Round) else None,
        book=book,
        bets=bets,
        notifications=notifications,
        wallet_events=moved,
    )


def _money_positions(record: RoundRecord) -> list[int]:
    """Positions of the listed events of the round's bets and their wallets (not the round's
    nor its book's): where the bets' money moved."""
    book_key = book_uuid(record.provider, record.round_id).hex
    return [
        i.position for i in record.timeline if i.originator_id not in (record.round_key, book_key)
    ]


def _hex(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


def state_from_log(ledger: Ledger, record: RoundRecord, log: LogRound) -> RoundState:
    """The round by `Ledger.round_state`'s rules, from aggregates already loaded."""
    round_, book = log.round_, log.book
    listed = list(book.bets) if book else []
    listed += [key for key in log.bets if key not in listed]
    result = round_.result if round_ else {}
    game = round_.game if round_ else ""
    bets = bet_views([log.bets[key] for key in listed if key in log.bets], result, game)
    status = RoundStatus(round_.status) if round_ else RoundStatus.UNKNOWN
    if status is RoundStatus.RESULT and book is not None and book.settled:
        status = RoundStatus.SETTLED
    bridge_settled = record.provider in ledger.bridge_settled
    book_flags = book.audit_flags if book else []
    if round_ is None:
        return RoundState(
            provider=record.provider,
            round_id=record.round_id,
            status=status,
            audit_flags=tuple(book_flags),
            bridge_settled=bridge_settled,
            bets=bets,
        )
    return RoundState(
        provider=record.provider,
        round_id=record.round_id,
        status=status,
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
        bridge_settled=bridge_settled,
        bets=bets,
    )


def _bet_fields(bet: BetItem | BetView) -> dict[str, Any]:
    outcome = None if bet.outcome is None else str(bet.outcome)
    return {
        "bet_id": bet.bet_id,
        "player": bet.player,
        "currency": bet.currency,
        "stake": Decimal(bet.stake),
        "status": str(bet.status),
        "outcome": outcome,
        "payout": Decimal(bet.payout),
        "expected_payout": bet.expected_payout,
        "flagged": bet.flagged,
        "cause": bet.cause,
        "late": bet.late,
    }


def compare_with_ledger(record: RoundRecord, state: RoundState) -> list[str]:
    """Header and bets of the view against the ledger's round, field by field."""
    problems: list[str] = []
    view_head = {
        "status": record.status,
        "table": record.table,
        "game": record.game,
        "closes_at": record.closes_at,
        "last_seq": record.last_seq,
        "result": record.result,
        "round_hash": record.verification.provider_hash,
        "digest": record.verification.bridge_digest,
        "verification": record.verification.status,
        "audit_flags": list(record.verification.audit_flags),
        "void_cause": record.void_cause,
    }
    log_head = {
        "status": state.status.value,
        "table": state.table,
        "game": state.game,
        "closes_at": state.closes_at,
        "last_seq": state.last_seq,
        "result": dict(state.result),
        "round_hash": state.round_hash,
        "digest": state.digest,
        "verification": state.verification.value,
        "audit_flags": list(state.audit_flags),
        "void_cause": state.void_cause,
    }
    for name, value in view_head.items():
        if value != log_head[name]:
            problems.append(f"round {name}: view {value!r}, log {log_head[name]!r}")
    view_bets = {b.bet_key: _bet_fields(b) for b in record.bets}
    log_bets = {b.bet_key: _bet_fields(b) for b in state.bets}
    for key in sorted(view_bets.keys() | log_bets.keys()):
        mine, theirs = view_bets.get(key), log_bets.get(key)
        if mine is None or theirs is None:
            where = "view" if mine is None else "log's round book"
            bet_id = (mine or theirs or {}).get("bet_id")
            problems.append(f"bet {bet_id}: missing from the {where}")
            continue
        for name, value in mine.items():
            if value != theirs[name]:
                problems.append(
                    f"bet {mine['bet_id']} {name}: view {value!r}, log {theirs[name]!r}"
                )
    return problems


def replay_round(
    ledger: Ledger, view: RoundsView, round_id: str, provider: str | None = None
) -> list[Replay]:
    """Every round named `round_id` (one per provider), each checked against the log."""
    replays = []
    for record in view.rounds(round_id, ledger.name, provider):
        log = load_from_log(ledger, record)
        state = state_from_log(ledger, record, log)
        differences = compare_with_ledger(record, state)
        differences += check_timeline(ledger, record, log.notifications)
        differences += check_completeness(record, log)
        replays.append(
            Replay(
                record=record,
                state=state,
                differences=differences,
                events_read=len(log.notifications),
            )
        )
    return replays


def replay_from_log(
    ledger: Ledger, round_id: str, providers: Sequence[str], view_position: int
) -> list[Replay]:
    """The round as the log alone has it, at each of `providers`, for a view without it.

    The ledger names a round by provider and round id; each one found is returned with a
    difference saying the view lacks it (so `agrees` is False).
    """
    replays = []
    for provider in providers:
        notifications = round_notifications(ledger, provider, round_id)
        record = fold(ledger, provider, round_id, notifications, view_position)
        if record is None:
            continue
        found = {b.bet_key: ledger.find(Bet, UUID(b.bet_key)) for b in record.bets}
        log = LogRound(
            round_=ledger.find(Round, UUID(record.round_key)),
            book=ledger.find(RoundBook, book_uuid(provider, round_id)),
            bets={key: bet for key, bet in found.items() if bet is not None},
            notifications={n.id: n for n in notifications},
        )
        behind = (
            "it is behind the log"
            if view_position < record.position
            else "it lost the round: rebuild it (livebridge projections rebuild rounds)"
        )
        missing = (
            f"the dispute view has no round {round_id!r} of {provider} (the view reflects "
            f"the log up to position {view_position}, the round's last event is at "
            f"{record.position}): {behind}; shown from the log alone"
        )
        replays.append(
            Replay(
                record=record,
                state=state_from_log(ledger, record, log),
                differences=[missing],
                events_read=len(notifications),
            )
        )
    return replays


def render(replay: Replay) -> list[str]:
    """A dispute agent's reading of the round: header, timeline, bets, verdict."""
    r = replay.record
    v = r.verification
    lines = [
        f"Round {r.round_id} at {r.provider} ({r.table or '-'}, {r.game or '-'}): {r.status}",
        f"  hash check: {v.status}; provider {v.provider_hash or '-'}; "
        f"bridge {v.bridge_digest or '-'}",
    ]
    lines += [f"  audit flag: {flag}" for flag in v.audit_flags]
    if r.result:
        lines.append("  result: " + ", ".join(f"{k}={val}" for k, val in sorted(r.result.items())))
    if r.void_cause:
        lines.append(f"  voided: {r.void_cause}")
    lines.append("")
    lines.append(f"  {'log pos':>8}  {'server time (UTC)':<23}  {'seq':>4}  {'video':<11}  event")
    for t in r.timeline:
        detail = ", ".join(
            f"{k}={val}"
            for k, val in sorted(t.detail.items())
            if val not in ("", None) and k not in SHOWN_ELSEWHERE
        )
        when = t.server_time.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
        seq = "" if t.provider_seq is None else str(t.provider_seq)
        lines.append(
            f"  {t.position:>8}  {when}  {seq:>4}  {t.video_timecode or '-':<11}  {t.event}"
            + (f"  {detail}" if detail else "")
        )
    lines.append("")
    lines.append(f"  {len(r.bets)} bet(s):")
    for b in r.bets:
        picks = " ".join(f"{s.get('market', '')}:{s.get('value', '')}" for s in b.selections)
        lines.append(
            f"    {b.bet_id:<16} {b.player:<12} {b.stake} {b.currency}  {picks or '-'}  "
            f"{b.status} {b.outcome or ''} payout {b.payout}"
            + (f" ({b.cause})" if b.cause else "")
            + (" FLAGGED" if b.flagged else "")
        )
    lines.append("")
    if replay.agrees:
        lines.append(
            f"  Rebuilt from the log ({replay.events_read} events read back by position, "
            "round and bets loaded by id): the view and the log agree."
        )
    else:
        lines.append(f"  Rebuilt from the log: {len(replay.differences)} difference(s):")
        lines += [f"    - {d}" for d in replay.differences]
    return lines
