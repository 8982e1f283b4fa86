"""A ledger on JetStream playing round after round keeps its memory flat once its bounds
are reached: what it remembers of a round, a bet or an aggregate's head is bounded, and
dropped when the round is done. (The bridge's own RSS over hours is `make soak`'s and
`make bench`'s: `tests/integration/bench/test_memory_soak.py`, `services/bench/memory.py`.)"""

from __future__ import annotations

import gc
import tracemalloc

from services.ledger.application import Ledger
from services.ledger.repository import SizedCache
from tests.unit.ledger.support.builders import closed
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import declared
from tests.unit.ledger.support.builders import funded
from tests.unit.ledger.support.builders import opened

PLAYERS = 6
BOUNDS = {
    "LEDGER_AGGREGATE_CACHE_BYTES": str(512 * 1024),
    "LEDGER_REMEMBERED_BETS": "100",
    "NATS_LAST_SEEN_HEADS": "300",
}


def play(ledger: Ledger, rounds: range) -> None:
    """Each round: opened, a bet a player, closed, its result (the ledger settles it)."""
    for n in rounds:
        round_id = f"r{n}"
        ledger.record_event(opened(round_id, provider="pp"))
        for p in range(PLAYERS):
            ledger.execute(
                debit(
                    f"t{n}-{p}", "1.00", player=f"p{p}", round_id=round_id, provider="pp",
                    bet_id=f"b{n}-{p}",
                )
            )  # fmt: skip
        ledger.record_event(closed(round_id, provider="pp"))
        ledger.record_event(declared({"number": "17"}, round_id=round_id, provider="pp"))


def traced_bytes() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_a_ledger_playing_rounds_stays_flat_once_its_bounds_are_reached(
    nats_url: str, stream_prefix: str
) -> None:
    env = {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": stream_prefix,
        "LEDGER_BRIDGE_SETTLED_PROVIDERS": "pp",
        **BOUNDS,
    }
    with Ledger(env) as ledger:
        for p in range(PLAYERS):
            funded(ledger, f"p{p}", "100000")
        play(ledger, range(0, 30))  # warm-up: every bound reached
        tracemalloc.start()
        try:
            before = traced_bytes()
            play(ledger, range(30, 60))
            grown = traced_bytes() - before
        finally:
            tracemalloc.stop()
        cache = ledger.repository.cache
        assert isinstance(cache, SizedCache) and cache.bytes <= 512 * 1024
        assert (
            len(ledger.round_book.placed_bets) <= 100 and len(ledger.round_book.booked_bets) <= 100
        )
    bets = 30 * PLAYERS
    # Before the bounds (issue 17) every bet kept some 4 KB: its cached bet and record,
    # its placed event, its heads. What is left (about 600 bytes a bet over this short
    # window) is the bounded maps' tables churning and buffers, not a growing store.
    assert grown / bets < 1_200, f"{grown / bets:.0f} bytes kept a bet"
