"""Which events of the log an auditor's query involves.

The ledger's events name what they touch with plain fields (`round_id`, `session_id`,
`bet_id`, `tx_id`, `ref_tx_id`), at any depth of the event's state. A query matches:

- `round`: every event naming the round; every event naming a bet or transaction already
  seen in the round (a late rollback names only the transaction it cancels); every event
  of an aggregate whose first event is in the export (a bet, a transaction record: later
  events need not name the round).
- `session`: the same, starting from `session_id`.
- `period`: every event whose `timestamp` is in `[start, end)`.

The log is read in order once, but a write may name a bet before the event that creates
it (a wallet's hold comes before the bet in the same atomic write), so each event is
decided only once the reader is `LOOKBACK` positions past it: more than a write can hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from projections.export.chain import aware_time

LOOKBACK = 1000
ROUND_KEYS = frozenset({"round_id", "roundId"})
SESSION_KEYS = frozenset({"session_id", "sessionId"})
REFERENCE_KEYS = frozenset(
    {"bet_id", "betId", "tx_id", "txId", "ref_tx_id", "refTxId", "tx_ref", "bet", "bets"}
)


@dataclass(frozen=True, slots=True)
class RoundQuery:
    round_id: str

    def describe(self) -> dict[str, str]:
        return {"kind": "round", "round_id": self.round_id}


@dataclass(frozen=True, slots=True)
class SessionQuery:
    session_id: str

    def describe(self) -> dict[str, str]:
        return {"kind": "session", "session_id": self.session_id}


@dataclass(frozen=True, slots=True)
class PeriodQuery:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds need a time zone (use ISO 8601 with Z or +00:00)")
        if self.end <= self.start:
            raise ValueError(f"period end {self.end} is not after its start {self.start}")

    def describe(self) -> dict[str, str]:
        return {"kind": "period", "from": self.start.isoformat(), "to": self.end.isoformat()}


Query = RoundQuery | SessionQuery | PeriodQuery


def described(text: Mapping[str, str]) -> Query:
    """The query a manifest describes (`Query.describe()` read back); ValueError if none."""
    kind = text.get("kind")
    keys = {"round": {"kind", "round_id"}, "session": {"kind", "session_id"}}.get(
        str(kind), {"kind", "from", "to"}
    )
    if kind not in ("round", "session", "period") or set(text) != keys:
        raise ValueError(
            "not a query livebridge export asks: expected kind round (round_id), session "
            f"(session_id) or period (from, to), got {dict(text)!r}"
        )
    if kind == "round":
        return RoundQuery(text["round_id"])
    if kind == "session":
        return SessionQuery(text["session_id"])
    start, end = datetime.fromisoformat(text["from"]), datetime.fromisoformat(text["to"])
    query = PeriodQuery(start, end)
    if query.describe() != dict(text):
        raise ValueError(f"period bounds {text['from']!r}, {text['to']!r} are not as written")
    return query


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in nested mappings; a list of ids gives one pair per id."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key), item
            if isinstance(item, list | tuple):
                yield from ((str(key), i) for i in item if isinstance(i, str))
            yield from walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from walk(item)


@dataclass
class Matcher:
    """Decides, event by event in log order, whether an event belongs to the export."""

    query: Query
    aggregates: set[str] = field(default_factory=set)
    references: set[str] = field(default_factory=set)

    def needles(self) -> list[bytes]:
        """Byte strings at least one of which an involved event's raw state must contain.

        Empty means no prefilter is possible (period queries).
        """
        match self.query:
            case RoundQuery(round_id=value) | SessionQuery(session_id=value):
                return [s.encode() for s in (value, *self.references)]
            case PeriodQuery():
                return []

    def involves(self, originator_id: str, version: int, data: Mapping[str, Any]) -> bool:
        match self.query:
            case PeriodQuery(start=start, end=end):
                # An export being verified may hold anything here: no time, no zone.
                stamp = data.get("timestamp")
                when = aware_time(stamp) if isinstance(stamp, str) else None
                return when is not None and start <= when < end
            case RoundQuery(round_id=target):
                keys = ROUND_KEYS
            case SessionQuery(session_id=target):
                keys = SESSION_KEYS
        pairs = list(walk(data))
        names_target = any(k in keys and v == target for k, v in pairs)
        refers = any(
            k in REFERENCE_KEYS and isinstance(v, str) and v in self.references for k, v in pairs
        )
        involved = names_target or refers or originator_id in self.aggregates
        if involved and version == 1:
            # An aggregate created for the query (a round, a bet, a transaction record):
            # its later events belong too, and ledger events name it by its id's hex form.
            self.aggregates.add(originator_id)
            self.references.add(originator_id.replace("-", ""))
        if involved:
            self.references.update(
                v for k, v in pairs if k in REFERENCE_KEYS and isinstance(v, str) and v
            )
        return involved
