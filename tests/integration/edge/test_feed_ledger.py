"""Feeds into the real ledger on JetStream: a clean round verifies, a gapped round is flagged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import msgspec
import pytest

from contracts.events import AnyProviderEvent
from contracts.events import ResultDeclared
from contracts.events import round_digest
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.sequencer import Sequencer
from services.edge.feeds.sink import Gap
from services.ledger.application import Ledger
from services.ledger.views import Verification
from tests.integration.support.ledgers import jetstream_ledger
from tests.unit.edge.support.feed_events import round_events


@pytest.fixture
def ledger(nats_url: str, stream_prefix: str) -> Iterator[Ledger]:
    app = jetstream_ledger(nats_url, stream_prefix)
    try:
        yield app
    finally:
        app.close()


def hashed(provider: str, round_id: str) -> list[AnyProviderEvent]:
    """A round whose result carries the provider's hash over the whole round."""
    events = round_events(provider, round_id)
    result = events[-1]
    assert isinstance(result, ResultDeclared)
    events[-1] = msgspec.structs.replace(result, round_hash=round_digest(events))
    return events


async def test_a_shuffled_round_with_repeats_is_verified_and_a_round_with_a_gap_is_flagged(
    ledger: Ledger,
) -> None:
    gaps: list[Gap] = []
    feed = FeedProcessor(
        "studio",
        ledger,
        MemoryCursorStore(),
        sequencer=Sequencer(gap_timeout=0.2),
        on_gap=gaps.append,
    )
    clean = hashed("studio", "r-clean")
    holed = [e for e in hashed("studio", "r-holed") if e.seq != 3]
    await feed.accept([*reversed(clean), clean[2], *holed])
    await asyncio.sleep(0.3)
    await feed.sweep()
    assert gaps == [Gap(provider="studio", round_id="r-holed", missing=(3,))]

    verified = await asyncio.to_thread(ledger.round_state, "studio", "r-clean")
    assert verified.verification is Verification.VERIFIED, verified.audit_flags
    assert verified.last_seq == 6
    flagged = await asyncio.to_thread(ledger.round_state, "studio", "r-holed")
    assert flagged.verification is Verification.FLAGGED
    assert any("missing 3" in flag for flag in flagged.audit_flags), flagged.audit_flags


async def test_a_repeat_that_changes_a_recorded_event_is_flagged_and_a_true_repeat_absorbed(
    ledger: Ledger,
) -> None:
    # The sequencer absorbed every repeat of a recorded seq as a duplicate, payload unseen:
    # a studio that sent the round's result again with another outcome was acknowledged
    # (`duplicates: 1`) and the round never flagged, where the ledger flags such a repeat.
    feed = FeedProcessor("studio", ledger, MemoryCursorStore())
    events = hashed("studio", "r-changed")
    await feed.accept(events)
    result = events[-1]
    assert isinstance(result, ResultDeclared)
    assert (await feed.accept([result])).duplicates == 1
    same = await asyncio.to_thread(ledger.round_state, "studio", "r-changed")
    assert same.verification is Verification.VERIFIED and same.audit_flags == ()

    changed = msgspec.structs.replace(result, result={"player": "9", "banker": "1"})
    assert (await feed.accept([changed])).duplicates == 1
    flagged = await asyncio.to_thread(ledger.round_state, "studio", "r-changed")
    assert flagged.audit_flags == ("seq 6 repeated with a different payload",)
    assert flagged.result == dict(result.result), "the first result stands"


async def test_a_changed_repeat_of_an_event_held_for_a_gap_is_flagged_once_it_is_recorded(
    ledger: Ledger,
) -> None:
    # A repeat of an event still held (waiting for an earlier seq) was absorbed as a
    # duplicate whatever its payload: the change never reached the ledger.
    feed = FeedProcessor("studio", ledger, MemoryCursorStore())
    events = hashed("studio", "r-held")
    result = events[-1]
    assert isinstance(result, ResultDeclared)
    changed = msgspec.structs.replace(result, result={"player": "9", "banker": "1"})
    assert (await feed.accept([*events[:-2], result, changed])).duplicates == 1
    await feed.accept([events[-2]])  # the hole fills: the held result is recorded
    flagged = await asyncio.to_thread(ledger.round_state, "studio", "r-held")
    assert flagged.audit_flags == ("seq 6 repeated with a different payload",)
    assert flagged.result == dict(result.result), "the first result stands"
