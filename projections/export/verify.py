"""Check an export offline: its chain, every manifest field against the events, its signature.

`verify(directory, key)` needs only the two files and, to prove the export's origin, the
bridge's public key; no NATS, no PostgreSQL. It reports every problem it can name:

- a line of `events.jsonl` that is not canonical, misnumbered, off its hash chain, out of
  log order or outside the scanned range (the first such line: later ones hang on it);
- a manifest field that is not what the events say: the query (each event must involve the
  round, session or period the manifest names), positions, counts, head hash, genesis,
  events file, creation time (not before the latest event);
- a manifest field changed after it was signed (only the signature covers the fields the
  events cannot: the application, the stream, the scanned range, the time);
- where the export came from (`signing.Origin`): proven by the given key, not checked (no
  key given), unsigned, signed with another key, or a bad signature.

Exports written before manifests were signed (`livebridge-export/1`) are checked the same
way and reported as "unsigned (legacy) export": intact, origin not provable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import assert_never

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from projections.export.chain import EVENTS_FILE
from projections.export.chain import FORMAT
from projections.export.chain import GENESIS
from projections.export.chain import LEGACY_FORMAT
from projections.export.chain import MANIFEST_FILE
from projections.export.chain import Chain
from projections.export.chain import Manifest
from projections.export.chain import Mismatch
from projections.export.chain import lines
from projections.export.chain import walk_chain
from projections.export.selection import Matcher
from projections.export.selection import PeriodQuery
from projections.export.selection import Query
from projections.export.selection import RoundQuery
from projections.export.selection import SessionQuery
from projections.export.selection import described
from projections.export.signing import Origin
from projections.export.signing import OriginCheck
from projections.export.signing import check_signature

EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_ORIGIN_UNPROVEN = 3


@dataclass(frozen=True, slots=True)
class Report:
    problems: tuple[Mismatch, ...]
    origin: OriginCheck
    manifest: Manifest | None
    chain: Chain | None

    @property
    def exit_code(self) -> int:
        """0 intact and signed with the given key; 1 wrong; 3 intact, origin not proven."""
        if self.problems or self.origin.origin in (
            Origin.UNSIGNED,
            Origin.WRONG_KEY,
            Origin.BAD_SIGNATURE,
        ):
            return EXIT_FAILED
        if self.origin.origin is Origin.PROVEN:
            return EXIT_VERIFIED
        return EXIT_ORIGIN_UNPROVEN


def field(name: str, text: str) -> Mismatch:
    return Mismatch(0, None, f"field {name!r} {text}")


def verify(directory: Path, key: Ed25519PublicKey | None = None) -> Report:
    """Everything wrong with the export in `directory`, and what proves its origin."""
    try:
        raw = (directory / MANIFEST_FILE).read_bytes()
        head = msgspec.json.decode(raw)
        version = head.get("format") if isinstance(head, dict) else None
        if version not in (FORMAT, LEGACY_FORMAT):
            return _refused(
                field(
                    "format",
                    f"is {version!r}; this livebridge reads {FORMAT!r} (and the "
                    f"unsigned legacy {LEGACY_FORMAT!r})",
                )
            )
        manifest = msgspec.json.decode(raw, type=Manifest)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        return _refused(Mismatch(0, None, f"manifest unreadable: {exc}"))
    problems = _static_fields(manifest)
    query = _query(manifest, problems)
    chain: Chain | None = None
    events = directory / EVENTS_FILE
    if not events.is_file():
        problems.append(Mismatch(0, None, f"the events file {EVENTS_FILE} is missing"))
    else:
        walked = walk_chain(events, manifest.scanned)
        if isinstance(walked, Mismatch):
            problems.append(walked)
        else:
            chain = walked
            problems.extend(_derived_fields(manifest, chain))
            if query is not None:
                problems.extend(_uninvolved(events, query))
    if manifest.format == LEGACY_FORMAT:
        origin = OriginCheck(
            Origin.LEGACY,
            f"unsigned (legacy) export: {LEGACY_FORMAT} was written before exports were "
            "signed; its events and manifest agree, but nothing proves livebridge wrote it "
            "(export it again to get a signed one)",
        )
        if manifest.signature is not None or manifest.stream is not None:
            problems.append(field("format", f"is {LEGACY_FORMAT!r}, which has no signature"))
    else:
        origin = check_signature(manifest, key)
        problems.extend(
            field(name, "was changed after the manifest was signed") for name in origin.changed
        )
    return Report(tuple(problems), origin, manifest, chain)


def _refused(problem: Mismatch) -> Report:
    return Report(
        (problem,),
        OriginCheck(Origin.UNSIGNED, "unsigned: no manifest could be read"),
        None,
        None,
    )


def _static_fields(manifest: Manifest) -> list[Mismatch]:
    problems: list[Mismatch] = []
    if manifest.genesis != GENESIS:
        problems.append(
            field("genesis", f"is {manifest.genesis!r}; every chain starts at 64 zeros")
        )
    if manifest.events_file != EVENTS_FILE:
        problems.append(field("events_file", f"is {manifest.events_file!r}, not {EVENTS_FILE!r}"))
    scanned = manifest.scanned
    if not (0 <= scanned.first <= scanned.last and (scanned.first >= 1 or scanned.last == 0)):
        problems.append(
            field("scanned", f"{scanned.first}..{scanned.last} is not a range of log positions")
        )
    try:
        created = datetime.fromisoformat(manifest.created_at)
        if created.tzinfo is None:
            raise ValueError("no time zone")
    except ValueError as exc:
        problems.append(field("created_at", f"{manifest.created_at!r} is not a time ({exc})"))
    return problems


def _query(manifest: Manifest, problems: list[Mismatch]) -> Query | None:
    try:
        return described(manifest.query)
    except (ValueError, KeyError) as exc:
        problems.append(field("query", str(exc)))
        return None


def _derived_fields(manifest: Manifest, chain: Chain) -> list[Mismatch]:
    """Fields the events themselves determine: each must be what the events say."""
    problems: list[Mismatch] = []
    stated: dict[str, Any] = {
        "events": (manifest.events, chain.events),
        "events_by_topic": (manifest.events_by_topic, chain.by_topic),
        "first_position": (manifest.first_position, chain.first_position),
        "last_position": (manifest.last_position, chain.last_position),
        "head_hash": (manifest.head_hash, chain.head_hash),
    }
    for name, (says, found) in stated.items():
        if says != found:
            problems.append(field(name, f"says {says!r}; the events file gives {found!r}"))
    if chain.latest_timestamp is not None:
        try:
            created = datetime.fromisoformat(manifest.created_at)
        except ValueError:
            return problems  # named by _static_fields
        if created.tzinfo is not None and created < chain.latest_timestamp:
            problems.append(
                field(
                    "created_at",
                    f"{manifest.created_at} is before the latest event "
                    f"({chain.latest_timestamp.isoformat()})",
                )
            )
    return problems


def _label(query: Query) -> str:
    match query:
        case RoundQuery(round_id=value):
            return f"round {value}"
        case SessionQuery(session_id=value):
            return f"session {value}"
        case PeriodQuery(start=start, end=end):
            return f"period {start.isoformat()} to {end.isoformat()}"
        case _:
            assert_never(query)


def _uninvolved(path: Path, query: Query) -> list[Mismatch]:
    """The first event that does not involve the query, read to a fixed point.

    An event may be involved through a later one (a wallet's hold names the bet written
    after it in the same write), so the file is read again while reading teaches the
    matcher more.
    """
    matcher = Matcher(query)
    involved: set[int] = set()
    while True:
        before = len(involved)
        for number, line in lines(path):
            event = line.event
            data = event.get("data")
            version = event.get("originator_version")
            if matcher.involves(
                str(event.get("originator_id")),
                version if type(version) is int else 0,
                data if isinstance(data, dict) else {},
            ):
                involved.add(number)
        if len(involved) == before:
            break
    for number, line in lines(path):
        if number not in involved:
            position = line.event.get("position")
            return [
                Mismatch(
                    number,
                    position if type(position) is int else None,
                    f"the event does not involve the manifest's query ({_label(query)}): "
                    "field 'query' does not describe these events",
                )
            ]
    return []
