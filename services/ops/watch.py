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

`facts(after)` folds the log from a position, so an auditor (and the tests) read why a
table was hidden at 21:04 in the order it happened. `samples(since, until)` reads only what
the log gained since its last call (the samples decoded so far are kept, a copy of the
log's, so every bridge reading it answers the same); samples older than `KEEP_SAMPLES`
are dropped from that copy, never from the log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from contracts.ops import CallSample, PlaybookStep, ProviderRecovered
from contracts.player import ProviderError

PAGE = 1000
KEEP_SAMPLES = timedelta(days=93)
"""The KPI API's longest window (92 days) and a day."""
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


Sampled = tuple[str, datetime, list[CallSample]]


class Watch(Application[UUID]):
    name = "watch"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_to = 0
        self._samples: list[Sampled] = []
        self._reading = threading.Lock()

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

    def samples(self, since: datetime, until: datetime) -> list[Sampled]:
        """(provider, interval start, samples) of the intervals started in [since, until)."""
        with self._reading:
            for position, e in self._events(self._read_to):
                self._read_to = position
                if isinstance(e, CallsSampled.Created):
                    self._samples.append((e.provider, e.started_at, _samples.decode(e.calls)))
            oldest = datetime.now(UTC) - KEEP_SAMPLES
            self._samples = [s for s in self._samples if s[1] >= oldest]
            return [s for s in self._samples if since <= s[1] < until]

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0
