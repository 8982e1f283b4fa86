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
the log gained since its last call, into a copy merged per provider, endpoint and minute
(histograms add up, so the copy is the log's answer, the same on every bridge) that keeps
the last `CACHED`; a window reaching further back is read from the log itself.
"""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event

from contracts.ops import CallSample
from contracts.ops import PlaybookStep
from contracts.ops import ProviderRecovered
from contracts.player import ProviderError
from services.ops.eventlog import events_after
from services.ops.latency import merge

CACHED = timedelta(days=2)
"""How far back `samples` answers from its copy (per provider and minute); further back it
reads the log itself."""
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
_Minutes = dict[tuple[str, datetime], dict[str, CallSample]]
"""(provider, minute) -> the minute's samples by endpoint."""
SLACK = timedelta(hours=1)
"""How far a sample's record time may stand from the minute it covers (its interval, the
clocks of several bridges) when the log is searched by record time."""


class Watch(Application[UUID]):
    name = "watch"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_to = 0
        self._minutes: _Minutes = {}
        self._reading = threading.Lock()

    def sample(self, provider: str, started_at: datetime, calls: list[CallSample]) -> None:
        self.save(CallsSampled(provider, started_at, msgspec.json.encode(calls).decode()))

    def note(self, fact: Fact) -> str:
        """Record `fact`; returns its id (the alert webhooks' `X-Livebridge-Event-Id`)."""
        kind = type(fact).__struct_config__.tag
        noted = Noted(fact.provider, str(kind), msgspec.json.encode(fact).decode())
        self.save(noted)
        return str(noted.id)

    def facts(self, after: int = 0) -> list[tuple[int, Fact]]:
        """Breaches, steps and recoveries after log position `after`, with their positions."""
        return [
            (position, _facts.decode(e.fact))
            for position, e in events_after(self, after)
            if isinstance(e, Noted.Created)
        ]

    def samples(self, since: datetime, until: datetime) -> list[Sampled]:
        """(provider, minute, samples) of the calls sampled in [since, until), by the minute
        their interval started in (samples of one minute merged per endpoint)."""
        kept_from = datetime.now(UTC) - CACHED
        if since < kept_from:  # further back than the copy keeps: from the log itself
            return _in_window(self._logged(since, until), since, until)
        with self._reading:
            for position, e in events_after(self, self._read_to):
                self._read_to = position
                if isinstance(e, CallsSampled.Created) and e.started_at >= kept_from:
                    _add(self._minutes, e.provider, e.started_at, _samples.decode(e.calls))
            for key in [k for k in self._minutes if k[1] < kept_from - timedelta(minutes=1)]:
                del self._minutes[key]
            return _in_window(self._minutes, since, until)

    def _logged(self, since: datetime, until: datetime) -> _Minutes:
        """The samples recorded from `since` to `until` (with `SLACK` either side), read
        from the log where its record times say they are: a binary search to the start,
        not the whole log (the copy's lock is not held, so `/metrics` goes on)."""
        minutes: _Minutes = {}
        for _, e in events_after(self, self._recorded_before(since - SLACK)):
            if e.timestamp >= until + SLACK:
                break
            if isinstance(e, CallsSampled.Created):
                _add(minutes, e.provider, e.started_at, _samples.decode(e.calls))
        return minutes

    def _recorded_before(self, instant: datetime) -> int:
        """The last log position recorded before `instant` (0: none), by binary search
        over the record times, which follow the log's order."""
        low, high = 0, self.head()
        while low < high:
            middle = (low + high + 1) // 2
            (found,) = self.recorder.select_notifications(middle, 1)
            event: Any = self.mapper.to_domain_event(found)
            if event.timestamp < instant:
                low = found.id
            else:
                high = middle - 1
        return low

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0


def _in_window(minutes: _Minutes, since: datetime, until: datetime) -> list[Sampled]:
    return [
        (provider, minute, list(by_endpoint.values()))
        for (provider, minute), by_endpoint in sorted(minutes.items())
        if since <= minute < until
    ]


def _add(
    into: _Minutes,
    provider: str,
    started_at: datetime,
    samples: list[CallSample],
) -> None:
    minute = started_at.replace(second=0, microsecond=0)
    by_endpoint = into.setdefault((provider, minute), {})
    for one in samples:
        earlier = by_endpoint.get(one.endpoint)
        merged = one if earlier is None else merge((earlier, one))
        assert merged is not None
        by_endpoint[one.endpoint] = merged
