"""The QoS rate limiter's buckets: one per key or player session, and a bounded number."""

from __future__ import annotations

from services.ops.qos import _Buckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_idle_until_its_bucket_is_full_again_is_forgotten() -> None:
    clock = Clock()
    buckets = _Buckets(rate=20.0, burst=40.0, clock=clock)
    for session in range(500):
        assert buckets.take(f"session/{session}")
    clock.now += 2.0  # 40 tokens at 20 a second: every bucket is full again
    assert buckets.take("session/new")
    assert len(buckets) == 1


def test_the_buckets_are_bounded_however_many_sessions_post_at_once() -> None:
    clock = Clock()
    buckets = _Buckets(rate=20.0, burst=40.0, clock=clock, max_keys=100)
    for session in range(10_000):
        assert buckets.take(f"session/{session}")
    assert len(buckets) == 100


def test_a_key_at_its_limit_stays_limited_while_others_come_and_go() -> None:
    clock = Clock()
    buckets = _Buckets(rate=1.0, burst=2.0, clock=clock, max_keys=100)
    assert [buckets.take("key/busy") for _ in range(3)] == [True, True, False]
    for session in range(50):
        buckets.take(f"session/{session}")
    assert not buckets.take("key/busy")
    clock.now += 1.0
    assert buckets.take("key/busy") and not buckets.take("key/busy")
