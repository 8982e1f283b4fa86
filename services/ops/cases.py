"""Dispute tickets and the audit queue's assignments: every step an event in the log.

`Cases` is an eventsourcing application of its own (stream `<prefix>_OPS` on JetStream,
the ledger's persistence settings), so what operators did survives restarts and is the
same on every bridge. Two aggregates, in the ledger's style (explicit nested events,
`@event` appliers):

- `Ticket`: opened on a round (provider, round id, player, reason), commented, resolved
  with an outcome. MTTR is the mean of resolved-minus-opened over tickets resolved.
- `AuditCase`: one per audit-queue item (id derived from the item's key), assigned and
  resolved.

Listings and MTTR fold the application's whole log (`events_after`, in pages): the
log is small (one event per operator action), and nothing is kept in memory between calls.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event

from contracts.ops import AuditState
from contracts.ops import TicketComment
from contracts.ops import TicketView
from services.ops.eventlog import events_after

_AUDIT_IDS = uuid.UUID("6c0f5c3e-4a5e-4d7e-9a51-0f3d9a1f7a11")


class Ticket(Aggregate):
    class Opened(Aggregate.Created):
        provider: str
        round_id: str
        player: str
        reason: str
        opened_by: str

    @event(Opened)
    def __init__(
        self, provider: str, round_id: str, player: str, reason: str, opened_by: str
    ) -> None:
        self.provider = provider
        self.round_id = round_id
        self.player = player
        self.reason = reason
        self.opened_by = opened_by
        self.comments: list[tuple[str, str, datetime]] = []
        self.outcome = ""
        self.resolution_note = ""
        self.resolved_at: datetime | None = None

    # Applied by the events themselves: each step keeps its own time (`timestamp`).

    class Commented(Aggregate.Event):
        author: str
        text: str

        def apply(self, aggregate: Any) -> None:
            aggregate.comments.append((self.author, self.text, self.timestamp))

    def comment(self, author: str, text: str) -> None:
        self.trigger_event(self.Commented, author=author, text=text)

    class Resolved(Aggregate.Event):
        outcome: str
        note: str
        resolved_by: str

        def apply(self, aggregate: Any) -> None:
            aggregate.outcome = self.outcome
            aggregate.resolution_note = self.note
            aggregate.resolved_at = self.timestamp

    def resolve(self, outcome: str, note: str, resolved_by: str) -> None:
        self.trigger_event(self.Resolved, outcome=outcome, note=note, resolved_by=resolved_by)


class AuditCase(Aggregate):
    class Opened(Aggregate.Created):
        key: str

    @event(Opened)
    def __init__(self, key: str) -> None:
        self.key = key
        self.assignee = ""
        self.resolution = ""
        self.resolved_by = ""

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid.uuid5(_AUDIT_IDS, key)

    class Assigned(Aggregate.Event):
        assignee: str
        assigned_by: str

    @event(Assigned)
    def assign(self, assignee: str, assigned_by: str) -> None:
        self.assignee = assignee

    class Resolved(Aggregate.Event):
        resolution: str
        resolved_by: str

    @event(Resolved)
    def resolve(self, resolution: str, resolved_by: str) -> None:
        self.resolution = resolution
        self.resolved_by = resolved_by


class TicketClosed(Exception):
    """The ticket was resolved already; it takes no more steps."""


class AuditItemClosed(Exception):
    """The audit item was resolved already; it takes no more steps."""


_Case = TypeVar("_Case", Ticket, AuditCase)


def ticket_view(ticket: Ticket) -> TicketView:
    return TicketView(
        ticket_id=str(ticket.id),
        provider=ticket.provider,
        round_id=ticket.round_id,
        player=ticket.player,
        reason=ticket.reason,
        opened_by=ticket.opened_by,
        opened_at=ticket.created_on,
        comments=tuple(TicketComment(author=a, text=t, at=at) for a, t, at in ticket.comments),
        status="resolved" if ticket.resolved_at else "open",
        outcome=ticket.outcome,
        resolution_note=ticket.resolution_note,
        resolved_at=ticket.resolved_at,
    )


class Cases(Application[UUID]):
    name = "ops"

    def open_ticket(
        self, *, provider: str, round_id: str, player: str, reason: str, opened_by: str
    ) -> TicketView:
        ticket = Ticket(
            provider=provider,
            round_id=round_id,
            player=player,
            reason=reason,
            opened_by=opened_by,
        )
        self.save(ticket)
        return ticket_view(ticket)

    def ticket(self, ticket_id: UUID) -> Ticket | None:
        try:
            found: Any = self.repository.get(ticket_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Ticket) else None

    def _open_ticket(self, ticket_id: UUID) -> Ticket | None:
        """The ticket, to take a step (None: no such ticket); `TicketClosed` once resolved."""
        ticket = self.ticket(ticket_id)
        if ticket is not None and ticket.resolved_at is not None:
            raise TicketClosed(f"ticket {ticket_id} was resolved at {ticket.resolved_at}")
        return ticket

    def comment(self, ticket_id: UUID, author: str, text: str) -> TicketView | None:
        ticket = self._open_ticket(ticket_id)
        if ticket is None:
            return None
        ticket.comment(author, text)
        self.save(ticket)
        return ticket_view(ticket)

    def resolve_ticket(
        self, ticket_id: UUID, outcome: str, note: str, resolved_by: str
    ) -> TicketView | None:
        ticket = self._open_ticket(ticket_id)
        if ticket is None:
            return None
        ticket.resolve(outcome, note, resolved_by)
        self.save(ticket)
        return ticket_view(ticket)

    def _case(self, key: str) -> AuditCase:
        try:
            found: Any = self.repository.get(AuditCase.create_id(key))
        except AggregateNotFoundError:
            return AuditCase(key=key)
        assert isinstance(found, AuditCase)
        return found

    def _open_case(self, key: str) -> AuditCase:
        """The item's case, if it takes steps still (the save's version check refuses a
        step taken on a case another operator resolved meanwhile)."""
        case = self._case(key)
        if case.resolution:
            raise AuditItemClosed(f"audit item {key} was resolved by {case.resolved_by}")
        return case

    def assign(self, key: str, assignee: str, assigned_by: str) -> None:
        case = self._open_case(key)
        case.assign(assignee, assigned_by)
        self.save(case)

    def resolve_case(self, key: str, resolution: str, resolved_by: str) -> None:
        case = self._open_case(key)
        case.resolve(resolution, resolved_by)
        self.save(case)

    # Folds of the whole log.

    def _folded(self, kind: type[_Case]) -> list[_Case]:
        """Every `kind` aggregate (`Ticket` or `AuditCase`) as the whole log leaves it."""
        found: dict[UUID, _Case] = {}
        for _, e in events_after(self):
            if isinstance(e, kind.Opened):
                found[e.originator_id] = e.mutate(None)  # type: ignore[assignment]
            elif isinstance(e, kind.Event) and e.originator_id in found:
                found[e.originator_id] = e.mutate(found[e.originator_id])  # type: ignore[assignment]
        return list(found.values())

    def tickets(self) -> list[TicketView]:
        return [ticket_view(t) for t in self._folded(Ticket)]

    def audit_states(self) -> dict[str, AuditState]:
        return {
            case.key: AuditState(
                assignee=case.assignee,
                resolution=case.resolution,
                resolved_by=case.resolved_by,
            )
            for case in self._folded(AuditCase)
        }
