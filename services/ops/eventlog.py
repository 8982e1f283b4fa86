"""The operations applications' own logs (`Cases`, `Watch`), read in pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.application import Application

PAGE = 1000


def events_after(app: Application[Any], after: int = 0) -> Iterator[tuple[int, Any]]:
    """(position, domain event) of every event of `app`'s log after position `after`."""
    position = after
    while True:
        page = app.recorder.select_notifications(position + 1, PAGE)
        if not page:
            return
        for notification in page:
            yield notification.id, app.mapper.to_domain_event(notification)
        position = page[-1].id
