"""The feed processor: records in order through the sink, remembers rounds, survives failures."""

from __future__ import annotations

import gc

import msgspec
import pytest

from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import BadEvent
from services.edge.feeds.processor import DeliveryFailed
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.processor import held_index_key
from services.edge.feeds.processor import held_key
from services.edge.feeds.processor import round_key
from services.edge.feeds.sequencer import Sequencer
from services.edge.feeds.sink import Gap
from services.edge.feeds.sink import log_gap
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(
    sink: RecordingSink,
    store: MemoryCursorStore | None = None,
    *,
    gaps: list[Gap] | None = None,
    clock: Clock | None = None,
) -> FeedProcessor:
    """Provider evo's processor, a gap declared after 1 s (of `clock`), told to `gaps`."""
    return FeedProcessor(
        "evo",
        sink,
        store or MemoryCursorStore(),
        sequencer=Sequencer(gap_timeout=1.0),
        on_gap=log_gap if gaps is None else gaps.append,
        clock=clock or Clock(),
    )


async def test_a_shuffled_batch_with_repeats_is_recorded_once_in_order() -> None:
    sink = RecordingSink()
    proc = make(sink)
    e = round_events("evo", "r1")
    accepted = await proc.accept([e[3], e[1], e[0], e[1], e[5], e[4], e[2]])
    assert sink.seqs("r1") == [1, 2, 3, 4, 5, 6]
    assert accepted.recorded == 6 and accepted.duplicates == 1


async def test_the_last_seq_of_each_round_is_stored_and_restores_a_restarted_feed() -> None:
    store = MemoryCursorStore()
    sink = RecordingSink()
    e = round_events("evo", "r1")
    await make(sink, store).accept(e[:3])
    assert store.values[round_key("evo", "r1")] == "3"
    restarted = make(sink, store)
    accepted = await restarted.accept(e[2:])
    assert accepted.duplicates == 1 and accepted.held == 0
    assert sink.seqs("r1") == [1, 2, 3, 4, 5, 6]


async def test_a_gap_is_reported_and_the_later_events_recorded() -> None:
    sink = RecordingSink()
    gaps: list[Gap] = []
    clock = Clock()
    proc = make(sink, gaps=gaps, clock=clock)
    e = round_events("evo", "r1")
    await proc.accept([e[0], e[1], e[4], e[5]])
    assert sink.seqs("r1") == [1, 2]
    clock.now = 2.0
    await proc.sweep()
    assert gaps == [Gap(provider="evo", round_id="r1", missing=(3, 4))]
    assert sink.seqs("r1") == [1, 2, 5, 6]
    assert proc.stats.gaps == 1


async def test_a_declared_gap_is_told_and_counted_but_not_kept() -> None:
    """A feed runs for months: the processor holds no list of the gaps it declared."""
    told: list[Gap] = []
    clock = Clock()
    proc = make(RecordingSink(), gaps=told, clock=clock)
    for n in range(20):
        e = round_events("evo", f"r{n}")
        await proc.accept([e[0], e[2]])
    clock.now = 2.0
    await proc.sweep()
    assert len(told) == 20 and proc.stats.gaps == 20
    kept = [name for name, value in vars(proc).items() if value in gc.get_referrers(told[0])]
    assert kept == [], kept


async def test_a_failing_sink_keeps_the_events_for_the_next_attempt() -> None:
    sink = RecordingSink()
    proc = make(sink)
    e = round_events("evo", "r1")
    await proc.accept(e[:2])
    sink.fail_next = 1
    with pytest.raises(DeliveryFailed, match="round r1 seq 3"):
        await proc.accept(e[2:4])
    assert sink.seqs("r1") == [1, 2]
    await proc.accept(e[2:])
    assert sink.seqs("r1") == [1, 2, 3, 4, 5, 6]


async def test_an_event_of_another_provider_or_without_seq_is_refused_before_any_effect() -> None:
    sink = RecordingSink()
    proc = make(sink)
    good = round_events("evo", "r1")[0]
    with pytest.raises(BadEvent, match="'pp'"):
        await proc.accept([good, round_events("pp", "r1")[1]])
    with pytest.raises(BadEvent, match="seq 0"):
        await proc.accept([good, msgspec.structs.replace(round_events("evo", "r2")[0], seq=0)])
    assert sink.events == []


async def test_held_events_are_stored_before_the_answer_and_recorded_after_a_restart() -> None:
    store = MemoryCursorStore()
    sink = RecordingSink()
    e = round_events("evo", "r1")
    accepted = await make(sink, store).accept([e[0], e[2], e[3]])
    assert accepted.held == 2 and sink.seqs("r1") == [1]
    assert store.values[held_index_key("evo")] == '["r1"]'
    # Killed here: a new process knows nothing but the store. The missing seq arrives.
    restarted = make(sink, store)
    await restarted.accept([e[1]])
    assert sink.seqs("r1") == [1, 2, 3, 4]
    assert store.values[held_key("evo", "r1")] == "[]"
    assert store.values[held_index_key("evo")] == "[]"


async def test_a_restarted_feed_declares_the_gap_of_events_held_before_it_started() -> None:
    store = MemoryCursorStore()
    sink = RecordingSink()
    e = round_events("evo", "r1")
    await make(sink, store).accept([e[0], e[3]])
    gaps: list[Gap] = []
    clock = Clock()
    restarted = make(sink, store, gaps=gaps, clock=clock)
    assert await restarted.sweep() == []  # read back, waiting again
    clock.now = 2.0
    await restarted.sweep()
    assert gaps == [Gap(provider="evo", round_id="r1", missing=(2, 3))]
    assert sink.seqs("r1") == [1, 4]
    assert store.values[held_index_key("evo")] == "[]"


async def test_held_events_that_cannot_be_stored_are_not_answered_as_taken() -> None:
    class Full(MemoryCursorStore):
        async def put(self, key: str, value: str) -> None:
            if key.startswith("held."):
                raise OSError("bucket unavailable")
            await super().put(key, value)

    sink = RecordingSink()
    e = round_events("evo", "r1")
    with pytest.raises(DeliveryFailed, match="holds"):
        await make(sink, Full()).accept([e[0], e[2]])
    assert sink.seqs("r1") == [1]


async def test_events_freed_by_a_gap_while_the_ledger_fails_are_recorded_by_a_later_sweep() -> None:
    """The provider was told these events were held: it never sends them again, so the
    sweeper must retry them, and the gap it declared is told once."""
    sink = RecordingSink()
    gaps: list[Gap] = []
    clock = Clock()
    proc = make(sink, gaps=gaps, clock=clock)
    e = round_events("evo", "r1")
    accepted = await proc.accept([e[0], e[2], e[4], e[5]])
    assert accepted.held == 3
    clock.now = 2.0
    sink.fail_next = 1
    with pytest.raises(DeliveryFailed, match="round r1 seq 3"):
        await proc.sweep()
    clock.now = 2.5
    assert await proc.sweep() == []
    assert sink.seqs("r1") == [1, 3, 5, 6], "the held result is recorded without a resend"
    assert gaps == [Gap(provider="evo", round_id="r1", missing=(2, 4))]
    assert proc.sequencer.pending() == 0


async def test_a_seq_declared_missing_that_comes_after_a_restart_is_recorded_not_a_duplicate() -> (
    None
):
    store = MemoryCursorStore()
    sink = RecordingSink()
    clock = Clock()
    e = round_events("evo", "r1")
    proc = make(sink, store, clock=clock)
    await proc.accept([e[0], e[2], e[3]])
    clock.now = 2.0
    assert [gap.missing for gap in await proc.sweep()] == [(2,)]
    restarted = make(sink, store)

    late = await restarted.accept([e[1]])

    assert (late.recorded, late.duplicates) == (1, 0)
    assert sink.seqs("r1") == [1, 3, 4, 2]
    assert store.values[round_key("evo", "r1")] == "4", "nothing awaited any more"
    assert (await restarted.accept([e[1]])).duplicates == 1


async def test_freed_events_of_several_rounds_survive_a_ledger_failing_on_the_first() -> None:
    # A sweep freed the held events of every round whose gap expired, then recorded them
    # round by round: when the ledger failed on the first round, the events already freed
    # from the others were in neither the sequencer nor the ledger, and the next position
    # stored for those rounds erased their stored copy. A round's result lost that way
    # never settles its bets.
    sink = RecordingSink()
    gaps: list[Gap] = []
    clock = Clock()
    proc = make(sink, gaps=gaps, clock=clock)
    a, b = round_events("evo", "r-a"), round_events("evo", "r-b")
    accepted = await proc.accept([a[0], a[2], a[5], b[0], b[2], b[5]])
    assert accepted.held == 4
    clock.now = 2.0
    sink.fail_next = 1
    with pytest.raises(DeliveryFailed):
        await proc.sweep()
    clock.now = 2.5
    await proc.sweep()
    assert sink.seqs("r-a") == [1, 3, 6]
    assert sink.seqs("r-b") == [1, 3, 6], "the other round's freed events are recorded too"
    assert proc.sequencer.pending() == 0
    assert sorted(g.round_id for g in gaps) == ["r-a", "r-b"]
