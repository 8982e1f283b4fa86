"""Wallet call times as fixed-bucket histograms (`contracts.ops.LATENCY_BOUNDS_S`).

`sample` turns one interval's calls into a `CallSample`; `merge` adds samples up;
`quantile` reads a quantile from the buckets the way Prometheus's `histogram_quantile`
does: linear within the bucket holding the rank, from 0 for the first bucket, and the
highest finite bound for ranks in the last (open) one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from collections.abc import Sequence

from contracts.ops import LATENCY_BOUNDS_S
from contracts.ops import CallSample
from contracts.ops import Latency


def sample(endpoint: str, seconds: Sequence[float], failed: int) -> CallSample:
    buckets = [0] * (len(LATENCY_BOUNDS_S) + 1)
    for took in seconds:
        buckets[bisect.bisect_left(LATENCY_BOUNDS_S, took)] += 1
    return CallSample(
        endpoint=endpoint,
        calls=len(seconds),
        failed=failed,
        total_s=sum(seconds),
        buckets=tuple(buckets),
    )


def merge(samples: Iterable[CallSample]) -> CallSample | None:
    found: CallSample | None = None
    for one in samples:
        if found is None:
            found = one
            continue
        found = CallSample(
            endpoint=found.endpoint,
            calls=found.calls + one.calls,
            failed=found.failed + one.failed,
            total_s=found.total_s + one.total_s,
            buckets=tuple(a + b for a, b in zip(found.buckets, one.buckets, strict=True)),
        )
    return found


def quantile(buckets: Sequence[int], q: float) -> float | None:
    count = sum(buckets)
    if not count:
        return None
    rank = q * count
    below = 0
    for index, n in enumerate(buckets):
        if n and below + n >= rank:
            if index == len(LATENCY_BOUNDS_S):
                return LATENCY_BOUNDS_S[-1]
            lower = LATENCY_BOUNDS_S[index - 1] if index else 0.0
            upper = LATENCY_BOUNDS_S[index]
            return lower + (upper - lower) * (rank - below) / n
        below += n
    return LATENCY_BOUNDS_S[-1]


def latency(merged: CallSample) -> Latency:
    if not merged.calls:
        return Latency(count=0)
    return Latency(
        count=merged.calls,
        mean_s=merged.total_s / merged.calls,
        p50_s=quantile(merged.buckets, 0.5),
        p99_s=quantile(merged.buckets, 0.99),
    )
