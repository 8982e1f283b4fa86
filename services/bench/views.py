"""Bench figures for the views: rebuild rate from the log, and one round's replay latency.

`measure(nats_url, database_url)` plays a small log of its own on JetStream; the bench
runner can pass a ledger over a big log instead (`ledger=`; rounds to replay are sampled
from the rebuilt view unless `round_ids=` says which), since both figures are functions
of the log. `big_log(nats_url, events)` builds such a log fast: the ledger plays in
memory (`services.simulate.roulette_log`), then its stored events are copied into JetStream write
by write, aggregate versions and all.

- `projection_rebuild_per_s`: events per second through `rebuild` (read from the log,
  project, write to a scratch schema, diff, swap) for the slower of the views; per view
  as `projection_rebuild_per_s_<name>`.
- `replay_round_p99_ms`: p99 of `replay_round` (view read, round and bets loaded by id,
  every timeline event read back by position, compared), over sampled rounds.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from projections.catalog import VIEWS
from projections.catalog import view_env
from projections.rebuild import open_view
from projections.rebuild import rebuild
from projections.rounds.postgres import PostgresRoundsView
from projections.rounds.replay import replay_round
from services.eventstore.recorders import JetStreamApplicationRecorder
from services.ledger.application import Ledger

REPLAY_SAMPLES = 1000
"""Enough for a p99 that one burst of slow replays does not make: the server's collector
drops the read caches of the blocks being read (`services.infra.natsserver.GO_MEMORY`), and
the next few replays load their blocks again."""
WARM_UP = 30
BENCH_ROUNDS = 150
ROUND_EVENTS = 25
"""At least about as many events as one round of `services.simulate.roulette_log.play` logs
(26 to 30 with 200 players)."""


class WriteSizes:
    """Counts the events of each write an application makes (wraps its recorder)."""

    def __init__(self, app: Application[Any]) -> None:
        self.sizes: list[int] = []
        self._insert = app.recorder.insert_events
        app.recorder.insert_events = self._counted  # type: ignore[method-assign]

    def _counted(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        if stored_events:
            self.sizes.append(len(stored_events))
        return self._insert(stored_events, **kwargs)


def copy_log(
    source: Application[Any], target: Application[Any], writes: Sequence[int], threads: int = 32
) -> int:
    """Append every stored event of `source` to `target`'s log, write by write; how many.

    `writes` is the number of events of each of the source's writes, in log order: each
    stays one write in the target, as the ledger made it (a replay reads a bet's writes).
    Writes go out from `threads` threads, as a busy ledger's do, so the recorder's group
    commit shares atomic batches among them; a write waits for the earlier writes of its
    aggregates, so their versions land in order.
    """
    notifications = iter(source.recorder.select_notifications(1, sum(writes)))
    last_write: dict[Any, Future[None]] = {}

    def insert(events: list[StoredEvent], after: list[Future[None]]) -> None:
        for earlier in after:
            earlier.result()
        target.recorder.insert_events(events)

    with ThreadPoolExecutor(threads) as pool:
        for size in writes:
            events = [
                StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                for n in itertools.islice(notifications, size)
            ]
            ids = {e.originator_id for e in events}
            after = [last_write[i] for i in ids if i in last_write]
            done = pool.submit(insert, events, after)
            last_write.update(dict.fromkeys(ids, done))
        for done in set(last_write.values()):
            done.result()
    return sum(writes)


def big_log(
    nats_url: str, events: int, *, played: int = 100_000, stream_prefix: str = ""
) -> Ledger:
    """A ledger on JetStream whose log holds at least `events` events.

    The first `played` events are rounds played by 200 players (bets, results, payouts:
    what replays read); the rest are cashier histories of other wallets (what a ledger
    that has run for years mostly holds), written through the domain as the ledger would.
    """
    from services.bench.log import fill_ledger_log
    from services.simulate.roulette_log import fund
    from services.simulate.roulette_log import play

    player_count = 200
    source = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    writes = WriteSizes(source)
    fund(source, player_count, amount="100000.00")
    first, wanted = 0, min(played, events)
    while (logged := source.recorder.max_notification_id() or 0) < wanted:
        # No more rounds than the rest needs, so that a small log (a test's) is not ten
        # times the size asked for.
        rounds = min(500, max(1, (wanted - logged) // ROUND_EVENTS))
        play(source, rounds=rounds, first=first, player_count=player_count, drain=True)
        first += rounds
    target = Ledger(
        {
            "PERSISTENCE_MODULE": "services.eventstore",
            "NATS_URL": nats_url,
            "NATS_STREAM_PREFIX": stream_prefix or "BIG" + uuid.uuid4().hex[:8].upper(),
        }
    )
    copied = copy_log(source, target, writes.sizes)
    source.close()
    if events > copied:
        fill_ledger_log(target, events - copied)
    return target


def rebuild_rates(
    ledger: Ledger, database_url: str, schema: str, names: Sequence[str] = tuple(VIEWS)
) -> dict[str, float]:
    """Rebuild the named views from `ledger`'s log into `schema` (empty first); events/s."""
    env = view_env(database_url, schema=schema)
    rates: dict[str, float] = {}
    for name in names:
        spec = VIEWS[name]
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
        # Steady state: connections open, statements prepared (psycopg prepares a query
        # on its fifth run on a connection), reader threads started.
        for round_id in round_ids[:WARM_UP]:
            replay_round(ledger, view, round_id)
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
    views: Sequence[str] = tuple(VIEWS),
    samples: int = REPLAY_SAMPLES,
) -> dict[str, float]:
    """Both figures; on a fresh log of `BENCH_ROUNDS` rounds unless `ledger` is given.

    `views` limits the rebuild to some views ("rounds" is needed for the replay);
    `samples` is how many round replays the p99 is taken over.
    """
    own = ledger is None
    if ledger is None:
        from services.simulate.roulette_log import fund
        from services.simulate.roulette_log import play

        ledger = Ledger(
            {
                "PERSISTENCE_MODULE": "services.eventstore",
                "NATS_URL": nats_url,
                "NATS_STREAM_PREFIX": "BENCHV" + uuid.uuid4().hex[:8].upper(),
            }
        )
        fund(ledger, 30)
        round_ids = play(ledger, rounds=BENCH_ROUNDS, player_count=30).rounds
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        rates = rebuild_rates(ledger, database_url, schema, names=sorted({*views, "rounds"}))
        if not round_ids:
            spec = VIEWS["rounds"]
            view = open_view(
                spec.projection_class, spec.view_class, view_env(database_url, schema=schema)
            )
            assert isinstance(view, PostgresRoundsView)
            try:
                round_ids = view.sample_round_ids(samples)
            finally:
                view.close()
        timings = replay_latencies_ms(ledger, database_url, schema, round_ids, samples)
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


def measure_big_log(
    nats_url: str,
    database_url: str,
    events: int,
    *,
    played: int = 100_000,
    stream_prefix: str = "",
    samples: int = REPLAY_SAMPLES,
) -> dict[str, float]:
    """The read-side figures on a log of `events` events, beside its raw JetStream read rate.

    `rebuild_ratio` is the slowest view's rebuild rate over the raw read rate of the same
    log, read by nats-py with batch direct gets: what reading alone costs from Python.
    """
    from services.bench.log import measure_raw_read

    ledger = big_log(nats_url, events, played=played, stream_prefix=stream_prefix)
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, JetStreamApplicationRecorder)
        figures = measure_raw_read(nats_url, recorder.stream)
        figures.update(measure(nats_url, database_url, ledger=ledger, samples=samples))
    finally:
        ledger.close()
    figures["rebuild_ratio"] = round(
        figures["projection_rebuild_per_s"] / figures["raw_read_per_s"], 3
    )
    return figures
