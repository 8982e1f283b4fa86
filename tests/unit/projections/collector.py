"""A rounds view that only records what it is asked to apply (unit tests, no socket)."""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import IntegrityError, Tracking

from projections.rounds.view import RoundChange, RoundRecord, RoundsView


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
