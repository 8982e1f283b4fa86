"""The per-round sequencer: duplicates absorbed, reordering undone, gaps declared once."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from services.edge.feeds.sequencer import Sequencer
from tests.unit.edge.support.feed_events import round_events


def test_in_order_events_are_handed_on_at_once() -> None:
    seq = Sequencer()
    out = [e.seq for ev in round_events("evo", "r1") for e in seq.offer(ev, 0.0).ready]
    assert out == [1, 2, 3, 4, 5, 6]


def test_a_duplicate_is_absorbed() -> None:
    seq = Sequencer()
    first, second = round_events("evo", "r1")[:2]
    assert seq.offer(first, 0.0).ready == [first]
    again = seq.offer(first, 0.0)
    assert again.duplicate and again.ready == []
    assert seq.offer(second, 0.0).ready == [second]


def test_a_reordered_event_waits_for_the_one_before_it() -> None:
    seq = Sequencer()
    e = round_events("evo", "r1")
    assert seq.offer(e[0], 0.0).ready == [e[0]]
    held = seq.offer(e[2], 0.0)
    assert held.held and held.ready == []
    assert seq.offer(e[2], 0.1).duplicate, "a repeat of a held event is a duplicate too"
    assert seq.offer(e[1], 0.2).ready == [e[1], e[2]]


def test_a_gap_is_declared_after_the_timeout_and_the_held_events_go_on() -> None:
    seq = Sequencer(gap_timeout=2.0)
    e = round_events("evo", "r1")
    seq.offer(e[0], 0.0)
    seq.offer(e[3], 0.0)
    seq.offer(e[5], 0.5)
    assert seq.expire(1.9) == [], "not yet: the hole may still fill"
    [(gap, ready)] = seq.expire(2.0)
    assert gap.missing == (2, 3, 5)
    assert [r.seq for r in ready] == [4, 6]
    assert seq.expire(10.0) == [], "a gap is declared once"


def test_a_missing_event_that_comes_after_its_gap_is_still_handed_on_once() -> None:
    seq = Sequencer(gap_timeout=1.0)
    e = round_events("evo", "r1")
    seq.offer(e[0], 0.0)
    seq.offer(e[2], 0.0)
    seq.expire(5.0)
    late = seq.offer(e[1], 6.0)
    assert late.ready == [e[1]]
    assert seq.offer(e[1], 6.0).duplicate


def test_too_many_held_events_declare_the_gap_without_waiting() -> None:
    seq = Sequencer(gap_timeout=60.0, max_held=3)
    e = round_events("evo", "r1", cards=5)
    for ev in e[1:4]:
        seq.offer(ev, 0.0)
    [(gap, ready)] = seq.expire(0.0)
    assert gap.missing == (1,)
    assert [r.seq for r in ready] == [2, 3, 4]


def test_rounds_are_sequenced_independently() -> None:
    seq = Sequencer()
    a, b = round_events("evo", "a"), round_events("evo", "b")
    assert seq.offer(b[0], 0.0).ready == [b[0]]
    assert seq.offer(a[1], 0.0).held
    assert seq.offer(a[0], 0.0).ready == [a[0], a[1]]


def test_a_seeded_round_treats_what_it_already_recorded_as_duplicates() -> None:
    seq = Sequencer()
    e = round_events("evo", "r1")
    seq.seed(("evo", "r1"), 3)
    assert seq.offer(e[2], 0.0).duplicate
    assert seq.offer(e[3], 0.0).ready == [e[3]]


def test_requeued_events_are_handed_on_again() -> None:
    seq = Sequencer()
    e = round_events("evo", "r1")
    ready = seq.offer(e[0], 0.0).ready + seq.offer(e[1], 0.0).ready
    seq.requeue(ready[1:])
    assert seq.last(("evo", "r1")) == 1
    assert seq.offer(e[1], 0.0).ready == [e[1]]


def test_old_ended_rounds_are_forgotten_first() -> None:
    seq = Sequencer(max_rounds=2)
    for name in ("a", "b", "c"):
        for ev in round_events("evo", name):
            seq.offer(ev, 0.0)
    assert not seq.knows(("evo", "a"))
    assert seq.knows(("evo", "c"))


@given(
    st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=40),
    st.randoms(use_true_random=False),
)
def test_any_delivery_order_with_repeats_hands_on_each_event_once_in_order(
    picks: list[int], rng: random.Random
) -> None:
    events = round_events("evo", "r1", cards=4)
    delivered = [events[i % len(events)] for i in picks] + events
    rng.shuffle(delivered)
    seq = Sequencer()
    out = [e.seq for ev in delivered for e in seq.offer(ev, 0.0).ready]
    assert out == list(range(1, len(events) + 1))


def test_an_ended_round_silent_for_the_idle_time_is_forgotten_and_an_open_one_kept() -> None:
    seq = Sequencer(idle_s=120.0)
    for ev in round_events("evo", "ended"):
        seq.offer(ev, 0.0)
    seq.offer(round_events("evo", "open")[0], 0.0)
    seq.expire(119.0)
    assert seq.knows(("evo", "ended")), "a repeat may still come"
    seq.expire(120.0)
    assert not seq.knows(("evo", "ended"))
    assert seq.knows(("evo", "open")), "still open: kept whatever its silence"
