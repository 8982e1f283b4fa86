"""Read the ledger's notification log and write an auditor's export of the events a query involves.

The log is read through the library's notification API (`recorder.select_notifications`),
so it works on the JetStream store and on any other persistence module alike; positions are
the log's notification ids (stream sequences on JetStream). The state of each event is
decoded with the application's own transcoder (after its cipher and compressor) and written
as plain JSON: amounts as decimal strings, ids as strings, times in ISO 8601.

The export is a snapshot: the scan stops at the log's last position when it began, recorded
in the manifest, so the same query over the same range always gives the same events. The
manifest is signed with the bridge's export key (`signing.py`). `selected` is also what
`verify --against` runs to find events an export leaves out.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.persistence import Mapper
from eventsourcing.persistence import Notification

from projections.export.chain import ChainWriter
from projections.export.chain import LogRange
from projections.export.chain import Manifest
from projections.export.chain import write_manifest
from projections.export.selection import LOOKBACK
from projections.export.selection import Matcher
from projections.export.selection import Query
from projections.export.signing import sign

PAGE = 1000


def _builtin(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def event_state(mapper: Mapper[Any], notification: Notification) -> dict[str, Any]:
    """The event's fields as JSON builtins, decoded the way the application stored them."""
    state = notification.state
    if mapper.cipher:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor:
        state = mapper.compressor.decompress(state)
    decoded = mapper.transcoder.decode(state)
    builtins = msgspec.to_builtins(decoded, enc_hook=_builtin, str_keys=True)
    assert isinstance(builtins, dict)
    return builtins


def export_record(notification: Notification, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "position": notification.id,
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
        "topic": notification.topic,
        "data": dict(data),
        "stored_sha256": hashlib.sha256(notification.state).hexdigest(),
    }


def selected(
    recorder: ApplicationRecorder, mapper: Mapper[Any], query: Query, last: int
) -> Iterator[tuple[Notification, dict[str, Any]]]:
    """The notifications at positions 1..`last` that `query` involves, in log order, decoded."""
    matcher = Matcher(query)
    plain = mapper.cipher is None and mapper.compressor is None
    window: deque[tuple[Notification, dict[str, Any] | None]] = deque()

    def candidate(notification: Notification) -> bool:
        """Cheap test on the raw bytes: could the event involve the query at all?"""
        needles = matcher.needles()
        return (
            not plain
            or not needles
            or str(notification.originator_id) in matcher.aggregates
            or any(n in notification.state for n in needles)
        )

    def decide(
        notification: Notification, data: dict[str, Any] | None
    ) -> tuple[Notification, dict[str, Any]] | None:
        if data is None:
            if not candidate(notification):
                return None
            data = event_state(mapper, notification)
        originator = str(notification.originator_id)
        if matcher.involves(originator, notification.originator_version, data):
            return notification, data
        return None

    start = 1
    while start <= last:
        page = recorder.select_notifications(start, PAGE, stop=last)
        if not page:
            break
        for notification in page:
            data = None
            if candidate(notification):
                data = event_state(mapper, notification)
                # Learn from it now: an earlier event of the same write may refer to it.
                matcher.involves(
                    str(notification.originator_id), notification.originator_version, data
                )
            window.append((notification, data))
            if len(window) > LOOKBACK and (chosen := decide(*window.popleft())):
                yield chosen
        start = page[-1].id + 1
    while window:
        if chosen := decide(*window.popleft()):
            yield chosen


def export(
    app: Application[Any],
    query: Query,
    directory: Path,
    signing_key: Ed25519PrivateKey,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Manifest:
    """Scan `app`'s log from its first to its current last position; export what `query`
    involves into `directory`.

    The manifest is signed with `signing_key`; the stream is named when the log is JetStream.
    """
    recorder, mapper = app.recorder, app.mapper
    last = recorder.max_notification_id() or 0
    first = recorder.select_notifications(1, 1, stop=last)
    writer = ChainWriter(directory)
    for notification, data in selected(recorder, mapper, query, last):
        writer.append(export_record(notification, data))
    stream = getattr(recorder, "stream", None)
    manifest = writer.close(
        application=app.name,
        stream=stream if isinstance(stream, str) else None,
        query=query.describe(),
        created_at=now().isoformat(),
        scanned=LogRange(first=first[0].id if first else 0, last=last),
    )
    manifest = sign(manifest, signing_key)
    write_manifest(directory, manifest)
    return manifest
