"""What a process knows of rounds without reading them: closes only ever add up, names are
kept, and the rounds kept are bounded at their measured cost."""

from __future__ import annotations

import gc
import tracemalloc

from services.ledger.known_rounds import ROUND_BYTES
from services.ledger.known_rounds import KnownRounds
from services.ledger.known_rounds import RoundNote
from services.ledger.rounds import Round
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import opened


def test_a_close_read_from_the_log_is_never_undone_by_an_older_open() -> None:
    known = KnownRounds()
    assert known.get("evo", "r1") is None
    known.see(closed())
    known.see(opened())  # a feed that reorders: the open arrives after the close
    assert known.get("evo", "r1") == RoundNote(table="T1", game="roulette", betting_closed=True)


def test_a_round_this_process_saved_is_known_as_saved() -> None:
    known = KnownRounds()
    round_ = Round(provider="hub88", round_id="r7")
    assert round_.close_by_transaction("tx-1")
    known.note(round_)
    note = known.get("hub88", "r7")
    assert note is not None and note.betting_closed


def test_rounds_are_bounded_at_their_measured_cost() -> None:
    known = KnownRounds(max_rounds=2_000)
    events = [opened(round_id=f"round-{n:06d}") for n in range(2_500)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for event in events:
            known.see(event)
        per_round = (tracemalloc.get_traced_memory()[0] - before) / 2_000
    finally:
        tracemalloc.stop()
    assert len(known) == 2_000
    assert known.get("evo", "round-000000") is None  # the oldest went first
    assert known.get("evo", "round-002499") is not None
    assert 50 < per_round <= ROUND_BYTES, per_round


def test_a_round_not_noted_for_the_idle_time_is_forgotten_and_read_again() -> None:
    now = [0.0]
    known = KnownRounds(idle_s=120.0, clock=lambda: now[0])
    known.see(opened(round_id="old"))
    now[0] = 100.0
    known.see(opened(round_id="live"))
    now[0] = 121.0
    assert known.get("evo", "old") is None, "silent for longer than the idle time"
    assert known.get("evo", "live") is not None
    known.see(closed(round_id="live"))  # a note keeps it and lets the old one go
    assert len(known) == 1
    now[0] = 240.0
    assert known.get("evo", "live") is not None
