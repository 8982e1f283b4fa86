"""The export format and its hash chain: written from the log, verified offline.

An export is a directory with two files:

- `events.jsonl`: one line per event, in log order. Each line is the canonical JSON (sorted
  keys, no spaces) of `{"event": {...}, "hash": "<hex>", "n": <line number from 1>}`.
- `manifest.json`: the query, the log positions covered, counts per event topic, the chain's
  genesis and its head hash.

`hash(n) = sha256(hash(n-1) as lowercase hex ASCII + canonical bytes of event n)`, with
`hash(0) = genesis` (64 zeros). Changing, removing, inserting or reordering any event
breaks the chain at that event; `verify` names the first line that does not match.

Verification needs only this module and the files: no NATS, no PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

FORMAT = "livebridge-export/1"
GENESIS = "0" * 64
EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"

_CANONICAL = msgspec.json.Encoder(order="sorted")


def canonical(value: Any) -> bytes:
    """Sorted-key compact JSON: the bytes that are hashed."""
    return _CANONICAL.encode(value)


def link(previous: str, event_bytes: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + event_bytes).hexdigest()


class LogRange(msgspec.Struct, frozen=True, kw_only=True):
    """Positions (notification ids, i.e. stream sequences) of the log that were scanned."""

    first: int
    last: int


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    application: str
    query: dict[str, str]
    created_at: str
    scanned: LogRange
    """Every log position in this range was read; the events file holds those that matched."""
    first_position: int | None
    last_position: int | None
    events: int
    events_by_topic: dict[str, int]
    genesis: str
    head_hash: str
    events_file: str = EVENTS_FILE


class ChainWriter:
    """Appends events to `events.jsonl`, keeping the running hash and the counts."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.head = GENESIS
        self.count = 0
        self.by_topic: dict[str, int] = {}
        self.first_position: int | None = None
        self.last_position: int | None = None
        self._file = (directory / EVENTS_FILE).open("wb")

    def append(self, event: dict[str, Any]) -> None:
        self.head = link(self.head, canonical(event))
        self.count += 1
        topic = str(event.get("topic", ""))
        self.by_topic[topic] = self.by_topic.get(topic, 0) + 1
        position = int(event["position"])
        if self.first_position is None:
            self.first_position = position
        self.last_position = position
        self._file.write(canonical({"event": event, "hash": self.head, "n": self.count}) + b"\n")

    def close(
        self, *, application: str, query: dict[str, str], created_at: str, scanned: LogRange
    ) -> Manifest:
        self._file.close()
        manifest = Manifest(
            format=FORMAT,
            application=application,
            query=query,
            created_at=created_at,
            scanned=scanned,
            first_position=self.first_position,
            last_position=self.last_position,
            events=self.count,
            events_by_topic=dict(sorted(self.by_topic.items())),
            genesis=GENESIS,
            head_hash=self.head,
        )
        (self.directory / MANIFEST_FILE).write_bytes(
            msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"
        )
        return manifest


@dataclass(frozen=True, slots=True)
class Mismatch:
    line: int
    """1-based line of `events.jsonl`; 0 for the manifest itself."""
    position: int | None
    """The event's log position, when the line could still be read."""
    reason: str

    def __str__(self) -> str:
        where = "manifest" if self.line == 0 else f"line {self.line}"
        at = f" (log position {self.position})" if self.position is not None else ""
        return f"{where}{at}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Verified:
    events: int
    head_hash: str
    manifest: Manifest


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    event: dict[str, Any]
    hash: str
    n: int


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as file:
        yield from enumerate(file, start=1)


def verify(directory: Path) -> Verified | Mismatch:
    """Check an export offline: what was verified, or the first thing that does not match."""
    try:
        manifest = msgspec.json.decode((directory / MANIFEST_FILE).read_bytes(), type=Manifest)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        return Mismatch(0, None, f"manifest unreadable: {exc}")
    if manifest.format != FORMAT:
        return Mismatch(0, None, f"unknown format {manifest.format!r}, expected {FORMAT!r}")
    head = manifest.genesis
    count = 0
    last_position = 0
    by_topic: dict[str, int] = {}
    decoder = msgspec.json.Decoder(_Line)
    if Path(manifest.events_file).name != manifest.events_file:
        return Mismatch(0, None, f"events file {manifest.events_file!r} is not a plain file name")
    events_path = directory / manifest.events_file
    if not events_path.is_file():
        return Mismatch(0, None, f"events file {manifest.events_file!r} is missing")
    lines: Iterable[tuple[int, bytes]] = _lines(events_path)
    for number, raw in lines:
        body = raw[:-1] if raw.endswith(b"\n") else raw
        try:
            line = decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return Mismatch(number, None, f"not a valid export line ({exc})")
        position = line.event.get("position")
        position = position if isinstance(position, int) else None
        if canonical(line) != body:
            return Mismatch(number, position, "line is not in canonical form (bytes were altered)")
        if line.n != number:
            return Mismatch(number, position, f"line numbered {line.n}, expected {number}")
        expected = link(head, canonical(line.event))
        if expected != line.hash:
            return Mismatch(
                number, position, "event does not match its hash (content changed or reordered)"
            )
        if position is None or position <= last_position:
            return Mismatch(number, position, "log positions must increase")
        if not manifest.scanned.first <= position <= manifest.scanned.last:
            return Mismatch(number, position, "log position outside the scanned range")
        head = expected
        count += 1
        last_position = position
        topic = str(line.event.get("topic", ""))
        by_topic[topic] = by_topic.get(topic, 0) + 1
    if count != manifest.events:
        return Mismatch(0, None, f"manifest counts {manifest.events} events, file has {count}")
    if by_topic != manifest.events_by_topic:
        return Mismatch(0, None, "manifest counts per topic differ from the events file")
    if head != manifest.head_hash:
        return Mismatch(
            0, None, f"head hash {head} differs from the manifest's {manifest.head_hash}"
        )
    return Verified(events=count, head_hash=head, manifest=manifest)
