"""Stored events for the event store's own tests, which look at versions, never at state."""

from __future__ import annotations

import uuid

from eventsourcing.persistence import StoredEvent


def event(originator: uuid.UUID, version: int, topic: str = "t") -> StoredEvent:
    return StoredEvent(
        originator_id=originator, originator_version=version, topic=topic, state=b"{}"
    )
