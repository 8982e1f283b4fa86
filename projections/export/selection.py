"""Which events of the log an auditor's query involves.

The ledger's events name what they touch with plain fields (`round_id`, `session_id`,
`bet_id`, `tx_id`, `ref_tx_id`), at any depth of the event's state. A query matches:

- `round`: every event naming the round; every event of an aggregate created for the round
  (its first event names it, later ones need not); every event naming a bet or transaction
  already seen in the round (a late rollback names only the transaction it cancels).
- `session`: the same, starting from `session_id`.
- `period`: every event whose `timestamp` is in `[start, end)`.

The log is read in order once, so "already seen" is enough: a transaction is always
recorded before anything that refers to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ROUND_KEYS = frozenset({"round_id", "roundId"})
SESSION_KEYS = frozenset({"session_id", "sessionId"})
REFERENCE_KEYS = frozenset({"bet_id", "betId", "tx_id", "txId", "ref_tx_id", "refTxId", "tx_ref"})


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


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in nested mappings and sequences of builtins."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key), item
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
                stamp = data.get("timestamp")
                if isinstance(stamp, str):
                    stamp = datetime.fromisoformat(stamp)
                return isinstance(stamp, datetime) and start <= stamp < end
            case RoundQuery(round_id=target):
                keys = ROUND_KEYS
            case SessionQuery(session_id=target):
                keys = SESSION_KEYS
        pairs = list(walk(data))
        names_target = any(k in keys and v == target for k, v in pairs)
        refers = any(k in REFERENCE_KEYS and v in self.references for k, v in pairs)
        if names_target and version == 1:
            self.aggregates.add(originator_id)
        involved = names_target or refers or originator_id in self.aggregates
        if involved:
            self.references.update(
                v for k, v in pairs if k in REFERENCE_KEYS and isinstance(v, str) and v
            )
        return involved
