"""The ledger's log, read raw: every message of its JetStream stream, in stream order.

Each message is an event the `eventsourcing` library stored: its subject ends with the
aggregate's token, the headers `ES-Topic` and `ES-Version` name the event class and the
aggregate's version, and the body is the event's state as JSON, where values JSON lacks
are boxed as `{"_type_": ..., "_data_": ...}` (`decimal_str` for money). The checker
unboxes them itself and keeps nothing else of the library.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import nats
from nats.js.api import ConsumerConfig
from nats.js.api import DeliverPolicy

TOPIC = "ES-Topic"
VERSION = "ES-Version"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    """The stream sequence: the log's order."""
    aggregate: str
    version: int
    kind: str
    """`Class.Event` from the topic, e.g. `Wallet.StakeHeld`."""
    state: dict[str, Any]


def kind_of(topic: str) -> str:
    """`services.ledger.domain:Wallet.StakeHeld` -> `Wallet.StakeHeld`."""
    return topic.rpartition(":")[2]


def _unbox(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            data = _unbox(value["_data_"])
            return Decimal(data) if value["_type_"] == "decimal_str" else data
        return {key: _unbox(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unbox(item) for item in value]
    return value


def decode(seq: int, subject: str, headers: dict[str, str], data: bytes) -> StoredEvent | None:
    """One message as a `StoredEvent`; None for a message that is not a stored event."""
    topic = headers.get(TOPIC)
    if not topic or VERSION not in headers:
        return None
    state = _unbox(json.loads(data))
    return StoredEvent(
        seq=seq,
        aggregate=subject.rsplit(".", 1)[-1],
        version=int(headers[VERSION]),
        kind=kind_of(topic),
        state=state if isinstance(state, dict) else {},
    )


async def read_stream(nats_url: str, stream: str, *, wait_s: float = 5.0) -> list[StoredEvent]:
    """Every stored event of `stream`, in order, through an ordered consumer (`nats_url`:
    one server, or a cluster's nodes comma-separated)."""

    async def once(_error: Exception) -> None:
        pass  # a server that does not answer is told once, by the error raised below

    nc = await nats.connect(
        nats_url.split(","),
        name="livebridge-checker",
        connect_timeout=wait_s,
        max_reconnect_attempts=1,  # each server tried once: nats-py's 60 take two minutes
        error_cb=once,
    )
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        last = info.state.last_seq
        events: list[StoredEvent] = []
        if not last:
            return events
        sub = await js.subscribe(
            f"{stream}.>",
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=wait_s)
                seq = msg.metadata.sequence.stream
                event = decode(seq, msg.subject, dict(msg.headers or {}), msg.data)
                if event is not None:
                    events.append(event)
                if seq >= last:
                    return events
        finally:
            await sub.unsubscribe()
    finally:
        await asyncio.wait_for(nc.close(), wait_s)


def by_kind(events: Iterable[StoredEvent], *kinds: str) -> list[StoredEvent]:
    return [e for e in events if e.kind in kinds]
