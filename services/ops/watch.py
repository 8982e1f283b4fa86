"""The SLA watch's log: call samples, breaches, playbook steps and recoveries.

`Watch` is an eventsourcing application of its own (stream `<prefix>_WATCH` on JetStream,
the ledger's persistence settings). Each fact is one aggregate's only event, so nothing
is ever replayed to write the next one:

- `CallsSampled`: one provider's calls over one sampling interval (`CallSample`s by
  endpoint); the wallet latency KPIs are read from these.
- `AlertRaised`: a `provider.error` (the contract Struct, as its JSON) with the reasons.
- `StepTaken`: a `playbook.step` (throttle sessions, switch feed, hide tables, soft
  decline, or its undoing) with its reason.
- `AlertCleared`: a `provider.recovered`.

`facts(since)` folds the log from a position, so an auditor (and the tests) read why a
table was hidden at 21:04 in the order it happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from contracts.ops import CallSample, PlaybookStep, ProviderRecovered
from contracts.player import ProviderError

PAGE = 1000
_samples = msgspec.json.Decoder(list[CallSample])
Fact = ProviderError | PlaybookStep | ProviderRecovered
_facts = msgspec.json.Decoder(Fact)


class CallsSampled(Aggregate):
    class Created(Aggregate.Created):
        provider: str
        started_at: datetime
        calls: str

    @event(Created)
    def __init__(self, provider: str, started_at: datetime, calls: str) -> None:
        self.provider = provider
        self.started_at = started_at
        self.calls = calls


class Noted(Aggregate):
    """A breach, a playbook step or a recovery: the contract Struct's JSON in `fact`."""

    class Created(Aggregate.Created):
        provider: str
        kind: str
        fact: str

    @event(Created)
    def __init__(self, provider: str, kind: str, fact: str) -> None:
        self.provider = provider
        self.kind = kind
        self.fact = fact


class Watch(Application[UUID]):
    name = "watch"

    def sample(self, provider: str, started_at: datetime, calls: list[CallSample]) -> None:
        self.save(CallsSampled(provider, started_at, msgspec.json.encode(calls).decode()))

    def note(self, fact: Fact) -> str:
        """Record `fact`; returns its id (the alert webhooks' `X-Livebridge-Event-Id`)."""
        kind = type(fact).__struct_config__.tag
        noted = Noted(fact.provider, str(kind), msgspec.json.encode(fact).decode())
        self.save(noted)
        return str(noted.id)

    def _events(self, after: int = 0) -> Iterator[tuple[int, Any]]:
        position = after
        while True:
            page = self.recorder.select_notifications(position + 1, PAGE)
            if not page:
                return
            for notification in page:
                yield notification.id, self.mapper.to_domain_event(notification)
            position = page[-1].id

    def facts(self, after: int = 0) -> list[tuple[int, Fact]]:
        """Breaches, steps and recoveries after log position `after`, with their positions."""
        return [
            (position, _facts.decode(e.fact))
            for position, e in self._events(after)
            if isinstance(e, Noted.Created)
        ]

    def samples(
        self, since: datetime, until: datetime
    ) -> list[tuple[str, datetime, list[CallSample]]]:
        """(provider, interval start, samples) of the intervals started in [since, until)."""
        return [
            (e.provider, e.started_at, _samples.decode(e.calls))
            for _, e in self._events()
            if isinstance(e, CallsSampled.Created) and since <= e.started_at < until
        ]

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0
