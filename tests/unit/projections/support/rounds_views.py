"""Rounds views for unit tests (no socket): one that records what it is asked to apply, one
that holds a single record."""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Tracking

from projections.rounds.view import RoundChange
from projections.rounds.view import RoundRecord
from projections.rounds.view import RoundsView


class Collector(RoundsView):
    def __init__(self) -> None:
        self.changes: list[RoundChange] = []
        self.position = 0

    def apply(self, tracking: Tracking, changes: Sequence[RoundChange]) -> None:
        self.insert_tracking(tracking)
        self.changes.extend(changes)

    def insert_tracking(self, tracking: Tracking) -> None:
        if tracking.notification_id <= self.position:
            raise IntegrityError(f"{tracking} recorded already")
        self.position = tracking.notification_id

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.position or None

    def rounds(
        self, round_id: str, application_name: str, provider: str | None = None
    ) -> list[RoundRecord]:
        return []


class OneRound(Collector):
    """A rounds view that holds one record, as given."""

    def __init__(self, record: RoundRecord) -> None:
        super().__init__()
        self.record = record

    def rounds(
        self, round_id: str, application_name: str, provider: str | None = None
    ) -> list[RoundRecord]:
        return [self.record] if round_id == self.record.round_id else []
