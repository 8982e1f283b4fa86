"""A ledger's whole log through a projection, in memory: what the projection unit tests do
before they look at their view."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from services.ledger.application import Ledger


def project_log(ledger: Ledger, projection: Projection[Any]) -> None:
    """Every event of `ledger`'s log through `projection`, one at a time, with its
    tracking row (the log position it was read at)."""
    for notification in ledger.recorder.select_notifications(1, 1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        projection.process_event(event, Tracking(ledger.name, notification.id))
