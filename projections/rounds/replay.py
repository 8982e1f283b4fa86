"""Replay one round for a dispute: the view's account, checked against the log itself.

`replay_round` reads the round from the view, then rebuilds it from the log without the
view's help and compares:

- **header and bets** against the round as the ledger models it (`Ledger.round_state`'s
  rules), built from the round's aggregates loaded by id: the `Round`, its `RoundBook`
  and each `Bet` (those the book lists and those the view lists);
- **timeline**: every event the view lists is read back from the log at its position,
  decoded, and run through the same projection code: name, aggregate, version, provider
  seq, video timecode, server time and details must all match. Nearby positions are
  read together; on JetStream by position, with no subject to match (`_load_jetstream`);
- **completeness**: the view must list as many events of the round and of each bet as
  those aggregates have versions, each audit flag of the round's book
  (`RoundBook.BetFlagged`), and every wallet event that moves a bet's money: on
  JetStream those written with the bets' events (`round_from_log.written_with`), elsewhere
  those in the log around them (`round_from_log.wallet_events`).

A round the view has not got (`replay_from_log`) is read from the log alone, by the ids
the ledger gives the round, its book and its bets, and shown with a difference that says
the view lacks it.

Nothing scans the log: the cost is a handful of reads by id or position, whatever the
size of the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Notification
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.rounds.projection import RoundsProjection
from projections.rounds.round_from_log import InMemoryRoundsView
from projections.rounds.round_from_log import Moved
from projections.rounds.round_from_log import fold
from projections.rounds.round_from_log import naming
from projections.rounds.round_from_log import round_notifications
from projections.rounds.round_from_log import wallet_events
from projections.rounds.round_from_log import window
from projections.rounds.round_from_log import written_with
from projections.rounds.view import BetItem
from projections.rounds.view import RoundChange
from projections.rounds.view import RoundRecord
from projections.rounds.view import RoundsView
from projections.rounds.view import TimelineEntry
from projections.rounds.view import TimelineItem
from projections.rounds.view import struct_from_row
from services.eventstore import runs
from services.ledger.application import Ledger
from services.ledger.domain import Bet
from services.ledger.domain import book_uuid
from services.ledger.domain import project
from services.ledger.round_state import round_state_of
from services.ledger.rounds import Round
from services.ledger.rounds import RoundBook
from services.ledger.views import BetView
from services.ledger.views import RoundState

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
NEARBY_ON_JETSTREAM = 8
"""The same on JetStream, where one more direct-get request costs about what eight more
messages in one cost (measured on the bench's log; `make bench`, `replay_round_p99_ms`)."""


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
    from services.eventstore import JetStreamApplicationRecorder

    return isinstance(ledger.recorder, JetStreamApplicationRecorder)


def _entry_as_item(entry: TimelineEntry) -> TimelineItem:
    detail: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(entry.detail))
    return struct_from_row(TimelineItem, asdict(entry), detail=detail)


def check_timeline(ledger: Ledger, record: RoundRecord, log: LogRound) -> list[str]:
    """Re-derive every timeline line from the event read back at its log position."""
    problems: list[str] = []
    collector = _Collector()
    projection: Projection[RoundsView] = RoundsProjection(collector)
    for item in record.timeline:
        notification = log.notifications.get(item.position)
        if notification is None:
            problems.append(
                f"timeline: the log has no event of {item.originator_id} at position "
                f"{item.position}"
            )
            continue
        collector.changes.clear()
        domain_event = log.decoded.get(item.position)
        if domain_event is None:
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
    decoded: dict[int, Any] = field(default_factory=dict)
    """Domain events already decoded from `notifications`, by position."""


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
    nearby = runs([item.position for item in record.timeline], NEARBY)
    run_fs = [pool.submit(_read_run, ledger, run) for run in nearby]
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
    span = window([b.position for b in record.bets] + _money_positions(record))
    moved = wallet_events(ledger, keys, span)
    notifications.update((p, m.notification) for p, m in moved.items())
    return LogRound(
        round_=round_f.result(),
        book=book,
        bets=bets,
        notifications=notifications,
        wallet_events=moved,
    )


def _load_jetstream(ledger: Ledger, record: RoundRecord) -> LogRound:
    """On JetStream, two bursts of reads in flight at once, none on a wallet's subject.

    First, every position the view lists, read by position (`messages_at`: no subject to
    match, the server reads them off in order; positions closer than `NEARBY_ON_JETSTREAM`
    in one request), the last event of the round, its book and each bet (`heads`), and the
    first events of the book (written apart from the round's, by the settlement).
    An aggregate whose events from version 1 to its last are all among the messages read
    is taken from them; otherwise (the view lacks some, or lists what is not there, or the
    book is long) it is read whole: the book first, since it names the bets to load. Then
    the writes of every bet event (`round_from_log.written_with`): the wallet events that
    move the bets' money are among them, listed by the view or not.
    """
    from services.eventstore import HEADER_TOPIC
    from services.eventstore import HEADER_VERSION
    from services.eventstore import JetStreamApplicationRecorder
    from services.eventstore import as_notification

    recorder = ledger.recorder
    assert isinstance(recorder, JetStreamApplicationRecorder)
    reader = recorder.reader
    book_key = book_uuid(record.provider, record.round_id).hex
    owners = [record.round_key, *(b.bet_key for b in record.bets)]
    keys = [*owners, book_key]
    listed = [item.position for item in record.timeline]
    # A bet event's write usually goes on right after it (its book entry, its transaction
    # record): read that position too, and the writes need no read of their own.
    after_bets = [i.position + 1 for i in record.timeline if i.originator_id in owners[1:]]

    book_read = 2 * len(record.bets) + 8  # started, booked and resolved per bet, closed...

    async def first_reads() -> tuple[dict[int, Any], dict[Any, Any], list[Any]]:
        return await asyncio.gather(
            reader.messages_at(listed + after_bets, NEARBY_ON_JETSTREAM),
            reader.heads([UUID(key) for key in keys]),
            reader.first_messages(UUID(book_key), book_read),
        )

    at, heads, book_page = recorder.read(first_reads())
    on_subject: dict[str, list[Any]] = {}
    got = {**{m.seq: m for m in book_page}, **at}
    for seq in sorted(got):
        on_subject.setdefault(got[seq].subject, []).append(got[seq])
    messages: dict[str, list[Any]] = {}
    for key in keys:
        head = heads.get(UUID(key))
        last = int(head.header(HEADER_VERSION)) if head is not None else 0
        mine = on_subject.get(head.subject, []) if head is not None else []
        if [int(m.header(HEADER_VERSION)) for m in mine] == list(range(1, last + 1)):
            messages[key] = mine
    notifications: dict[int, Notification] = {}
    decoded: dict[int, Any] = {}

    def aggregate(found: list[Any]) -> Any:
        for m in found:
            if m.seq not in decoded:
                notifications[m.seq] = as_notification(m)
                decoded[m.seq] = ledger.mapper.to_domain_event(notifications[m.seq])
        return project(None, [decoded[m.seq] for m in found]) if found else None

    if book_key not in messages:  # longer than its first read
        messages[book_key] = recorder.read(reader.aggregate_messages(UUID(book_key)))
    book: RoundBook | None = aggregate(messages[book_key])
    # Aggregates the view does not account for exactly, and bets only the book lists.
    whole = [key for key in owners if key not in messages]
    whole += [key for key in (book.bets if book else {}) if key not in keys]
    bet_keys = [key for key in [*owners[1:], *whole] if key != record.round_key]

    async def second_reads() -> list[Notification]:
        read = await asyncio.gather(*(reader.aggregate_messages(UUID(k)) for k in whole))
        messages.update(zip(whole, read, strict=True))
        bets_messages = [m for key in dict.fromkeys(bet_keys) for m in messages[key]]
        return await written_with(recorder, bets_messages, at)

    candidates = recorder.read(second_reads())
    aggregates = {key: aggregate(found) for key, found in messages.items() if key != book_key}
    # Read by position, so any message may be among them: keep the events listed.
    for p in listed:
        if p in at and p not in notifications and at[p].find_header(HEADER_TOPIC):
            notifications[p] = as_notification(at[p])
    bets = {key: aggregates[key] for key in bet_keys if aggregates.get(key) is not None}
    moved = naming(ledger, candidates, set(bets) | {b.bet_key for b in record.bets})
    notifications.update((p, m.notification) for p, m in moved.items())
    round_ = aggregates.get(record.round_key)
    return LogRound(
        round_=round_ if isinstance(round_, Round) else None,
        book=book,
        bets=bets,
        notifications=notifications,
        wallet_events=moved,
        decoded=decoded,
    )


def _money_positions(record: RoundRecord) -> list[int]:
    """Positions of the listed events of the round's bets and their wallets (not the round's
    nor its book's): where the bets' money moved."""
    book_key = book_uuid(record.provider, record.round_id).hex
    return [
        i.position for i in record.timeline if i.originator_id not in (record.round_key, book_key)
    ]


def state_from_log(ledger: Ledger, record: RoundRecord, log: LogRound) -> RoundState:
    """The round by `Ledger.round_state`'s rules, from aggregates already loaded."""
    listed = list(log.book.bets) if log.book else []
    listed += [key for key in log.bets if key not in listed]
    bets = [log.bets[key] for key in listed if key in log.bets]
    bridge_settled = record.provider in ledger.bridge_settled
    return round_state_of(
        record.provider, record.round_id, log.round_, log.book, bets, bridge_settled
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
        differences += check_timeline(ledger, record, log)
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
