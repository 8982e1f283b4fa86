"""The settle tracker remembers at most its bound of reported bets, each at its measured cost,
across a checkpoint too."""

from __future__ import annotations

import gc
import pickle
import tracemalloc
from collections import OrderedDict

from services.platform.settle import REPORTED_BET_BYTES, SettleTracker, _RoundEnd
from tests.unit.ledger.support.builders import player_bet, player_credit
from tests.unit.platform.support.settle_log import ledger, settlements


def measured_bytes(value: object) -> int:
    data = pickle.dumps(value)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        copy = pickle.loads(data)
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        del copy


def test_reported_bets_are_bounded_and_cost_at_most_their_measured_size() -> None:
    app = ledger()
    for n in range(60):
        app.execute(player_bet(f"d{n}", "alice", "1.00", round_id=f"R-{n}"))
        app.execute(player_credit(f"c{n}", "alice", "0.00", round_id=f"R-{n}"))
    tracker = SettleTracker(reported_limit=40)
    assert len(settlements(app, tracker)) == 60
    assert len(tracker.reported) == 40
    assert "bet-d59" in {bet.bet_id for bet in tracker.reported.values()}  # the newest stay

    per_bet = measured_bytes(list(tracker.reported.values())) / len(tracker.reported)
    per_record = measured_bytes((tracker.records, tracker._record_order)) / len(tracker.records)
    rounds = OrderedDict(  # a roulette round's result, as `rounds` remembers one
        (f"evo\x00R-{n:06d}", _RoundEnd(result={"number": str(n % 37), "color": "red"}))
        for n in range(200)
    )
    per_round = measured_bytes(rounds) / len(rounds)
    assert 200 < per_bet + per_record + per_round / 4 <= REPORTED_BET_BYTES, (
        per_bet,
        per_record,
        per_round,
    )
    assert len(tracker.records) <= tracker.record_limit

    restored, _ = SettleTracker.restore(tracker.checkpoint(1), reported_limit=10)
    assert len(restored.reported) == 10 and restored.reported_limit == 10
