"""A KPI window older than the watch's copy is read from the log by a binary search over
record times: its cost grows with the window, not with the log."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from contracts.ops import LATENCY_BOUNDS_S
from contracts.ops import CallSample
from services.ops.watch import CallsSampled
from services.ops.watch import Watch

START = (datetime.now(UTC) - timedelta(days=5)).replace(second=0, microsecond=0)
DAYS = 4


def sample(calls: int) -> list[CallSample]:
    buckets = (calls, *(0 for _ in LATENCY_BOUNDS_S))
    return [
        CallSample(endpoint="wallet.debit", calls=calls, failed=0, total_s=0.0, buckets=buckets)
    ]


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    """Four days of one sample a minute, each recorded at the end of its minute."""
    clock = [START]
    monkeypatch.setattr(CallsSampled.Created, "create_timestamp", staticmethod(lambda: clock[0]))
    found = Watch({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    for minute in range(DAYS * 24 * 60):
        at = START + timedelta(minutes=minute)
        clock[0] = at + timedelta(minutes=1)
        found.sample("evo", at, sample(1 + minute % 7))
    return found


def test_an_hour_three_days_back_reads_that_hour_not_the_log(watch: Watch) -> None:
    read: list[int] = []
    select = watch.recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        page = select(*args, **kwargs)
        read.append(len(page))
        return page

    watch.recorder.select_notifications = counted  # type: ignore[method-assign]
    since = START + timedelta(days=1, hours=3)
    found = watch.samples(since, since + timedelta(hours=1))

    assert [minute for _, minute, _ in found] == [since + timedelta(minutes=m) for m in range(60)]
    assert [s[0].calls for _, _, s in found] == [1 + (27 * 60 + m) % 7 for m in range(60)]
    assert sum(read) < 3000, f"read {sum(read)} of {DAYS * 24 * 60} events"
