"""The export format and its hash chain: written from the log, checked line by line.

An export is a directory with two files:

- `events.jsonl`: one line per event, in log order. Each line is the canonical JSON (sorted
  keys, no spaces) of `{"event": {...}, "hash": "<hex>", "n": <line number from 1>}`.
- `manifest.json`: what was asked (`query`: kind and round, session or period), which log
  (`application`, `stream`) and which of its positions were read (`scanned`), the positions
  and counts of what the file holds, the chain's genesis and head hash, and the signature
  (`signing.py`) over every one of those fields.

`hash(n) = sha256(hash(n-1) as lowercase hex ASCII + canonical bytes of event n)`, with
`hash(0) = GENESIS` (64 zeros). Changing, removing, inserting or reordering any event
breaks the chain at that event; a chain recomputed after such a change no longer ends at
the signed head hash. `verify.py` checks all of it offline.

Format versions: `livebridge-export/2` is signed; `livebridge-export/1` (written before
exports were signed) has the same fields without `stream` and `signature`, and verifies as
an unsigned legacy export.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

FORMAT = "livebridge-export/2"
LEGACY_FORMAT = "livebridge-export/1"
GENESIS = "0" * 64
EVENTS_FILE = "events.jsonl"
MANIFEST_FILE = "manifest.json"

_CANONICAL = msgspec.json.Encoder(order="sorted")


def canonical(value: Any) -> bytes:
    """Sorted-key compact JSON: the bytes that are hashed."""
    return _CANONICAL.encode(value)


def link(previous: str, event_bytes: bytes) -> str:
    return hashlib.sha256(previous.encode("ascii") + event_bytes).hexdigest()


class LogRange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Positions (notification ids, i.e. stream sequences) of the log that were scanned."""

    first: int
    last: int


class Signature(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Ed25519 over `fields` (each manifest field's SHA-256) and the key that signed."""

    algorithm: str
    public_key: str
    """The signer's raw 32-byte public key, base64: a claim, trusted only if it is `--key`."""
    key_id: str
    """SHA-256 of the raw public key, hex."""
    fields: dict[str, str]
    """Every other manifest field by name: SHA-256 (hex) of its canonical JSON."""
    value: str
    """base64 Ed25519 signature of the canonical JSON of the other four fields."""


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: str
    application: str
    stream: str | None = None
    """The JetStream stream the events were read from; None for another event store."""
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
    signature: Signature | None = None


def manifest_fields(manifest: Manifest) -> dict[str, Any]:
    """The manifest's fields as JSON builtins, the signature aside: what is signed."""
    fields = msgspec.to_builtins(manifest)
    assert isinstance(fields, dict)
    fields.pop("signature", None)
    return fields


def write_manifest(directory: Path, manifest: Manifest) -> None:
    (directory / MANIFEST_FILE).write_bytes(
        msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"
    )


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
        self,
        *,
        application: str,
        stream: str | None,
        query: dict[str, str],
        created_at: str,
        scanned: LogRange,
    ) -> Manifest:
        """The manifest of what was written (unsigned: the caller signs and writes it)."""
        self._file.close()
        return Manifest(
            format=FORMAT,
            application=application,
            stream=stream,
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


class Line(msgspec.Struct, forbid_unknown_fields=True):
    event: dict[str, Any]
    hash: str
    n: int


@dataclass(frozen=True, slots=True)
class Chain:
    """What an intact events file holds, to compare with its manifest."""

    events: int
    head_hash: str
    by_topic: dict[str, int]
    first_position: int | None
    last_position: int | None
    latest_timestamp: datetime | None
    """The latest `timestamp` of an event's data, if any event has one."""


def lines(path: Path) -> Iterator[tuple[int, Line]]:
    """The lines of an events file already checked by `walk_chain`, decoded."""
    decoder = msgspec.json.Decoder(Line)
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            yield number, decoder.decode(raw)


def aware_time(text: str) -> datetime | None:
    """The time `text` writes in ISO 8601 with its zone; None for anything else."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def walk_chain(path: Path, scanned: LogRange) -> Chain | Mismatch:
    """Check every line of an events file: form, numbering, hash links, positions."""
    head = GENESIS
    count = 0
    first_position: int | None = None
    last_position = 0
    latest: datetime | None = None
    by_topic: dict[str, int] = {}
    decoder = msgspec.json.Decoder(Line)
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            body = raw[:-1] if raw.endswith(b"\n") else raw
            try:
                line = decoder.decode(body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return Mismatch(number, None, f"not a valid export line ({exc})")
            position = line.event.get("position")
            position = position if type(position) is int else None
            if canonical(line) != body:
                return Mismatch(
                    number, position, "line is not in canonical form (bytes were altered)"
                )
            if line.n != number:
                return Mismatch(number, position, f"line numbered {line.n}, expected {number}")
            expected = link(head, canonical(line.event))
            if expected != line.hash:
                return Mismatch(
                    number, position, "event does not match its hash (content changed or reordered)"
                )
            if position is None or position <= last_position:
                return Mismatch(number, position, "log positions must increase")
            if not scanned.first <= position <= scanned.last:
                return Mismatch(
                    number,
                    position,
                    f"log position outside the manifest's scanned range "
                    f"{scanned.first}..{scanned.last}",
                )
            head = expected
            count += 1
            if first_position is None:
                first_position = position
            last_position = position
            topic = str(line.event.get("topic", ""))
            by_topic[topic] = by_topic.get(topic, 0) + 1
            data = line.event.get("data")
            stamp = data.get("timestamp") if isinstance(data, dict) else None
            when = aware_time(stamp) if isinstance(stamp, str) else None
            if when is not None and (latest is None or when > latest):
                latest = when
    return Chain(
        events=count,
        head_hash=head,
        by_topic=by_topic,
        first_position=first_position,
        last_position=last_position if count else None,
        latest_timestamp=latest,
    )
