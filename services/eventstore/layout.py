"""The layout of an application's stream: its subjects, the headers on each message, and how
a stored message reads back as the library's notification.

    S.e.<aggregate token>      the aggregate's events, one message each, in version order
    S.t.<upstream token>       a tracking record per processed upstream notification

The aggregate token encodes the originator id reversibly (`u<hex>` for a UUID,
`s<base32>` for a string id), so ids come back with the type they went in with. Each
event message carries `ES-Version` and `ES-Topic` headers and the event state as payload;
each message's `Nats-Msg-Id` is `<write id>:<index>/<length>`, so the whole write is found
from any one of its messages (`write_of`). The writer (`writer.py`) and the reader
(`reader.py`) both follow this layout; nothing else names a subject.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Notification
from nats.js.api import DiscardPolicy
from nats.js.api import RePublish
from nats.js.api import RetentionPolicy
from nats.js.api import StorageType
from nats.js.api import StreamConfig
from opentelemetry import trace

from services.eventstore.connection import StoredMsg

HEADER_VERSION = "ES-Version"
HEADER_TOPIC = "ES-Topic"
HEADER_TRACKING = "ES-Tracking"
TRACEPARENT = "traceparent"  # W3C trace context of the command that wrote the event
EXPECT_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
MSG_ID = "Nats-Msg-Id"
_TOKEN_OK = re.compile(r"^[A-Za-z0-9_-]+\Z")


def aggregate_token(originator_id: UUID | str) -> str:
    if isinstance(originator_id, UUID):
        return "u" + originator_id.hex
    return "s" + base64.b32encode(originator_id.encode()).decode().rstrip("=").lower()


def originator_from_token(token: str) -> UUID | str:
    if token[0] == "u":
        return UUID(hex=token[1:])
    body = token[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8)).decode()


def name_token(name: str) -> str:
    """A subject token for an application name (readable when it is already safe)."""
    return name if _TOKEN_OK.match(name) else aggregate_token(name)


def stream_name(prefix: str, app_name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", app_name).upper()
    return f"{prefix}_{cleaned}" if prefix else cleaned


def events_subject(stream: str, token: str = "*") -> str:
    """The subject of one aggregate's events (by its token), or of them all (`*`)."""
    return f"{stream}.e.{token}"


def tracking_subject(stream: str, application_name: str | None = None) -> str:
    """The subject of one upstream application's tracking records, or of them all (None)."""
    return f"{stream}.t.{'*' if application_name is None else name_token(application_name)}"


def tracing_on() -> bool:
    """Whether a tracing SDK is installed (without one, every span is a no-op)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@dataclass(frozen=True)
class TracedNotification(Notification):
    """A notification with the `traceparent` of the command that wrote it (None: none)."""

    traceparent: str | None = None


def as_notification(message: StoredMsg, *, traced: bool = False) -> TracedNotification:
    """A stored event message as the library's notification (its id is the stream seq);
    `traced`: with the `traceparent` it was written under."""
    return TracedNotification(
        id=message.seq,
        originator_id=originator_from_token(message.subject.rsplit(".", 1)[1]),
        originator_version=int(message.header(HEADER_VERSION)),
        topic=message.header(HEADER_TOPIC),
        state=message.data,
        traceparent=message.find_header(TRACEPARENT) if traced else None,
    )


def write_of(message: StoredMsg) -> tuple[str, int, int]:
    """(write id, index in the write, length of the write) of a message the recorder wrote.

    From its `Nats-Msg-Id` (`<write id>:<index>/<length>`); a message without one is taken
    as a write of its own.
    """
    write_id, _, place = (message.find_header(MSG_ID) or "").rpartition(":")
    index, _, length = place.partition("/")
    if not write_id or not index.isdigit() or not length.isdigit():
        return str(message.seq), 0, 1
    return write_id, int(index), int(length)


def ledger_stream_config(name: str, subjects: list[str]) -> StreamConfig:
    """An append-only, fsynced, file-backed stream (I6, docs/invariants.md).

    Every message is kept forever; neither delete nor purge is allowed. Snapshot streams
    are configured alike: the library reads snapshots older than the latest one too.
    """
    return StreamConfig(
        name=name,
        subjects=subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=-1,
        max_bytes=-1,
        max_age=0,
        max_msgs_per_subject=-1,
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
        allow_direct=True,
        allow_atomic=True,
        duplicate_window=120.0,
        num_replicas=1,
        republish=RePublish(
            src=subjects[0],
            dest=f"_LB_NOTE.{subjects[0].replace('*', '{{wildcard(1)}}')}",
            headers_only=True,
        ),
    )
