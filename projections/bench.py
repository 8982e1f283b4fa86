"""Bench figures for the views: rebuild rate from the log, and one round's replay latency.

`measure(nats_url, database_url)` plays a small log of its own on JetStream; the bench
runner can pass a ledger over a big log instead (`ledger=`, plus `round_ids=` to sample
from), since both figures are functions of the log:

- `projection_rebuild_per_s`: events per second through `rebuild` (read from the log,
  project, write to a scratch schema, diff, swap) for the slower of the views; per view
  as `projection_rebuild_per_s_<name>`.
- `replay_round_p99_ms`: p99 of `replay_round` (view read, round and bets loaded by id,
  every timeline event read back by position, compared), over sampled rounds.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Sequence

from projections.rebuild import open_view, rebuild
from projections.rounds.postgres import PostgresRoundsView
from projections.rounds.replay import replay_round
from projections.run import VIEWS, view_env
from services.ledger.application import Ledger

REPLAY_SAMPLES = 300
BENCH_ROUNDS = 150


def rebuild_rates(ledger: Ledger, database_url: str, schema: str) -> dict[str, float]:
    """Rebuild every view from `ledger`'s log into `schema` (empty first); events/s each."""
    env = view_env(database_url, schema=schema)
    rates: dict[str, float] = {}
    for name, spec in VIEWS.items():
        report = rebuild(ledger, spec.projection_class, spec.view_class, env)
        if not report.ok:
            msg = f"rebuild of {name} found differences:\n" + "\n".join(report.lines())
            raise AssertionError(msg)
        rates[name] = report.events / report.seconds if report.seconds else 0.0
    return rates


def replay_latencies_ms(
    ledger: Ledger,
    database_url: str,
    schema: str,
    round_ids: Sequence[str],
    samples: int = REPLAY_SAMPLES,
) -> list[float]:
    """`replay_round` timings over `samples` rounds drawn from `round_ids` (view built)."""
    env = view_env(database_url, schema=schema)
    spec = VIEWS["rounds"]
    view = open_view(spec.projection_class, spec.view_class, env)
    assert isinstance(view, PostgresRoundsView)
    rng = random.Random(1)
    timings: list[float] = []
    try:
        for _ in range(3):  # warm the connections
            replay_round(ledger, view, round_ids[0])
        for round_id in (rng.choice(round_ids) for _ in range(samples)):
            started = time.perf_counter()
            replays = replay_round(ledger, view, round_id)
            timings.append((time.perf_counter() - started) * 1000)
            if not replays or not all(r.agrees for r in replays):
                msg = f"replay of round {round_id} does not agree with the log"
                raise AssertionError(msg)
    finally:
        view.close()
    return timings


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(
    nats_url: str,
    database_url: str,
    *,
    ledger: Ledger | None = None,
    round_ids: Sequence[str] | None = None,
) -> dict[str, float]:
    """Both figures; on a fresh log of `BENCH_ROUNDS` rounds unless `ledger` is given."""
    own = ledger is None
    if ledger is None:
        from tests.integration.projections.driver import fund, play

        ledger = Ledger(
            {
                "PERSISTENCE_MODULE": "services.eventstore",
                "NATS_URL": nats_url,
                "NATS_STREAM_PREFIX": "BENCHV" + uuid.uuid4().hex[:8].upper(),
            }
        )
        fund(ledger, 30)
        round_ids = play(ledger, rounds=BENCH_ROUNDS, player_count=30).rounds
    assert round_ids, "measure() needs round ids to replay"
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        rates = rebuild_rates(ledger, database_url, schema)
        timings = replay_latencies_ms(ledger, database_url, schema, round_ids)
    finally:
        if own:
            ledger.close()
    figures: dict[str, float] = {
        f"projection_rebuild_per_s_{name}": float(round(rate)) for name, rate in rates.items()
    }
    figures["projection_rebuild_per_s"] = float(round(min(rates.values())))
    figures["replay_round_p50_ms"] = round(sorted(timings)[len(timings) // 2], 2)
    figures["replay_round_p99_ms"] = round(p99(timings), 2)
    return figures
