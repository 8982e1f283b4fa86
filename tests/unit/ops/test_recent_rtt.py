"""The round trips the SLA watch judges are bounded by reporter and by time, whatever the
length of the run or the number of sessions that ever reported."""

from __future__ import annotations

import tracemalloc

from services.ops.qos import RecentRtt


def test_a_reporter_keeps_only_its_latest_round_trips() -> None:
    now = [0.0]
    recent = RecentRtt(600.0, lambda: now[0], per_reporter=10)
    for i in range(1_000):
        recent.add("evo", "ses_flood", float(i))
    recent.add("evo", "ses_quiet", 5.0)
    found = recent.reports("evo", 600.0)
    assert found["ses_flood"] == [float(i) for i in range(990, 1_000)]
    assert found["ses_quiet"] == [5.0], "a flood pushes out no other reporter's round trips"
    assert len(recent) == 11


def test_reporters_and_providers_silent_past_the_window_are_forgotten() -> None:
    now = [0.0]
    recent = RecentRtt(60.0, lambda: now[0], max_reporters=10_000)
    for session in range(5_000):
        recent.add(f"provider-{session % 50}", f"ses_{session}", 100.0)
    assert len(recent) == 5_000
    now[0] = 61.0
    recent.add("evo", "ses_now", 80.0)
    assert len(recent) == 1
    assert recent.reports("provider-7", 3600.0) == {}
    assert recent.reports("evo", 60.0) == {"ses_now": [80.0]}


def test_the_window_asked_for_leaves_out_older_round_trips() -> None:
    now = [0.0]
    recent = RecentRtt(600.0, lambda: now[0])
    recent.add("evo", None, 300.0)
    now[0] = 100.0
    recent.add("evo", None, 200.0)
    assert recent.reports("evo", 60.0) == {None: [200.0]}
    assert recent.reports("evo", 600.0) == {None: [300.0, 200.0]}


def test_past_the_reporters_bound_the_one_that_reported_least_recently_leaves() -> None:
    now = [0.0]
    recent = RecentRtt(600.0, lambda: now[0], max_reporters=3)
    for session in ("a", "b", "c"):
        recent.add("evo", session, 1.0)
    recent.add("evo", "a", 2.0)
    recent.add("evo", "d", 3.0)
    assert set(recent.reports("evo", 600.0)) == {"a", "c", "d"}
    for n in range(100_000):
        recent.add("evo", f"ses_{n}", 4.0)
    assert len(recent) == 3


def test_a_round_trip_held_costs_what_the_readmes_memory_table_says() -> None:
    recent = RecentRtt()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for session in range(1_000):
            for rtt in range(100):
                recent.add("evolution", f"ses_{session:032d}", float(rtt))
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(recent) == 100_000
    assert grown / len(recent) <= 125, f"{grown / len(recent):.0f} B a round trip"
