"""I7: a view rebuilt from the log equals the view built live, row for row.

The log is played by the simulator's live tables
(`tests.integration.projections.support.simulated_log`: roulette, baccarat and blackjack at a
provider that settles with credits; calls sent twice, bets rolled back before and after they
are placed, table events repeated and out of order, rounds voided) and by
`services.simulate.roulette_log` roulette tables at a provider the ledger settles itself and
at another that credits (late bets, wrong round hashes, voids, repeated debits and
credits, rollbacks). The ledger runs on the library's in-memory store so that the log
fills fast; the views are real PostgreSQL tables.

The live views are built while the tables play by per-event followers: each event in a
transaction of its own with its tracking row, as the library's `ProjectionRunner` does,
which shares nothing with the rebuild's paged, batched `catch_up` but the projection.
Half way, each view is rebuilt and swapped in under the followers' feet.

The default plays 180 rounds (some 6,000 events: every kind of round and call above, under
a minute on a quiet machine; the per-event followers, a transaction per event, take most
of it);
`LIVEBRIDGE_SOAK=1` (make soak) plays 5,600.
The last test rebuilds and swaps on JetStream under the library's `ProjectionRunner`s
while the tables keep playing.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import Tracking

from projections.balances.postgres import PostgresBalancesView
from projections.catalog import VIEWS
from projections.catalog import ViewSpec
from projections.catalog import view_env
from projections.rebuild import open_view
from projections.rebuild import rebuild
from projections.rounds.postgres import PostgresRoundsView
from projections.rounds.replay import compare_with_ledger
from projections.run import running_projections
from services.ledger.application import Ledger
from services.simulate.roulette_log import Played
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play
from services.simulate.roulette_log import players
from tests.integration.projections.support.simulated_log import simulate_into

SOAK = os.environ.get("LIVEBRIDGE_SOAK") == "1"
STAGES = 4
SIM_ROUNDS = 200 if SOAK else 7
"""Rounds per simulator table per stage (three tables: roulette, baccarat, blackjack)."""
PLAY_ROUNDS = 400 if SOAK else 12
"""Rounds per stage at each of the two roulette_log providers."""
SIMULATED = "pragmatic"  # settles with credits, simulator tables
BRIDGE_SETTLED = "evo"  # the ledger settles from the result
CREDITING = "ezugi"  # settles with credits, roulette_log tables
PLAYERS = 30


@pytest.fixture
def popo_ledger() -> Iterator[Ledger]:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo", "BRIDGE_SETTLED_PROVIDERS": "evo"})
    yield app
    app.close()


class PerEventFollower(threading.Thread):
    """What `ProjectionRunner` does: each event in its own transaction with its tracking.

    (The runner itself builds its own application from settings; an in-memory log is
    not reachable that way, so this follows the test's ledger directly.)
    """

    def __init__(self, ledger: Ledger, spec: ViewSpec, env: dict[str, str]) -> None:
        super().__init__(name=f"follow-{spec.name}", daemon=True)
        self.ledger = ledger
        self.view = open_view(spec.projection_class, spec.view_class, env)
        self.projection = spec.projection_class(self.view)
        self.finish = threading.Event()
        self.applied = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            position = self.view.max_tracking_id(self.ledger.name) or 0
            while True:
                notifications = self.ledger.recorder.select_notifications(position + 1, 200)
                if not notifications:
                    if self.finish.is_set():
                        return
                    time.sleep(0.01)
                    continue
                for notification in notifications:
                    event = self.ledger.mapper.to_domain_event(notification)
                    self.projection.process_event(
                        event, Tracking(self.ledger.name, notification.id)
                    )
                    position = notification.id
                    self.applied += 1
        except BaseException as error:  # re-raised by the test
            self.error = error

    def stop(self) -> None:
        self.finish.set()
        self.join()
        self.view.close()
        if self.error is not None:
            raise self.error


def merge(into: Played, more: Played) -> None:
    into.rounds += more.rounds
    into.voided += more.voided
    into.flagged += more.flagged
    into.refused += more.refused


@pytest.mark.soak
@pytest.mark.timeout(3600 if SOAK else 300)
def test_views_rebuilt_from_the_log_equal_the_views_built_live(
    popo_ledger: Ledger, database_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Commits are not waited onto disk: this test is about which rows, not about a power
    # cut (the crash tests are), and a flush per event would triple its time.
    monkeypatch.setenv("PGOPTIONS", "-c synchronous_commit=off")
    ledger = popo_ledger
    env = view_env(database_url, schema=schema)
    rng = random.Random(5)
    fund(ledger, PLAYERS)
    followers = [PerEventFollower(ledger, spec, env) for spec in VIEWS.values()]
    for follower in followers:
        follower.start()
    simulated_rounds: list[str] = []
    simulated_players: set[str] = set()
    simulated_voids: list[str] = []
    duplicated = rolled_back = 0
    by_provider = {BRIDGE_SETTLED: Played(), CREDITING: Played()}
    try:
        # The tables play in stages while the followers keep the live views; half way,
        # each view is rebuilt and swapped in under their feet.
        for stage in range(STAGES):
            report, calls = simulate_into(
                ledger,
                provider=SIMULATED,
                rounds=SIM_ROUNDS,
                seed=stage + 1,
                bettors=2,
                void_rate=0.1,  # voids to rebuild even in a short run
            )
            simulated_rounds += report.books.rounds
            simulated_players |= set(report.books.expected)
            simulated_voids += calls.voided
            duplicated += report.books.duplicates
            rolled_back += report.books.rolled_back + report.books.pre_rolled_back
            for provider, credits in ((BRIDGE_SETTLED, False), (CREDITING, True)):
                merge(
                    by_provider[provider],
                    play(
                        ledger,
                        rounds=PLAY_ROUNDS,
                        first=stage * PLAY_ROUNDS,
                        player_count=PLAYERS,
                        seed=11 if credits else 7,
                        provider=provider,
                        credits=credits,
                    ),
                )
            if stage == STAGES // 2 - 1:
                for spec in VIEWS.values():
                    report_ = rebuild(ledger, spec.projection_class, spec.view_class, env)
                    assert report_.ok, "\n".join(report_.lines())
                    assert report_.swapped
    finally:
        for follower in followers:
            follower.stop()

    # Check the log holds what the test is about.
    rounds = len(simulated_rounds) + sum(len(p.rounds) for p in by_provider.values())
    assert rounds == STAGES * (3 * SIM_ROUNDS + 2 * PLAY_ROUNDS) >= (5000 if SOAK else 150)
    assert duplicated and rolled_back and simulated_voids
    for played in by_provider.values():
        assert played.voided and played.flagged and played.refused
    position = ledger.recorder.max_notification_id()
    assert position is not None
    assert all(f.applied == position for f in followers), [f.applied for f in followers]

    # Check every view, rebuilt from scratch, equals the live one row for row.
    for spec in VIEWS.values():
        report_ = rebuild(ledger, spec.projection_class, spec.view_class, env)
        assert report_.ok, "\n".join(report_.lines())
        assert report_.position == position
        assert report_.events == position

    # Check the live views also say what the ledger says (an independent calculation).
    balances = open_view(VIEWS["balances"].projection_class, PostgresBalancesView, env)
    rounds_view = open_view(VIEWS["rounds"].projection_class, PostgresRoundsView, env)
    try:
        assert isinstance(balances, PostgresBalancesView)
        assert isinstance(rounds_view, PostgresRoundsView)
        for player in [*players(PLAYERS), *sorted(simulated_players)]:
            wallet = balances.wallet(player, ledger.name)
            assert wallet is not None and wallet.position == position
            for row in wallet.balances:
                truth = ledger.balance(player, row.currency)
                assert (row.balance, row.held, row.available) == (
                    truth.balance,
                    truth.held,
                    truth.available,
                ), player
        checked = [(SIMULATED, r) for r in rng.sample(simulated_rounds, 40) + simulated_voids]
        for provider, played in by_provider.items():
            sample = rng.sample(played.rounds, 40) + played.voided + played.flagged
            checked += [(provider, r) for r in sample]
        for provider, round_id in checked:
            (record,) = rounds_view.rounds(round_id, ledger.name, provider)
            state = ledger.round_state(provider, round_id)
            assert compare_with_ledger(record, state) == [], (provider, round_id)
        voided = rounds_view.rounds(by_provider[BRIDGE_SETTLED].voided[0], ledger.name, "evo")
        assert voided[0].status == "VOIDED"
        assert all(b.status == "REFUNDED" for b in voided[0].bets)
        flagged = rounds_view.rounds(by_provider[CREDITING].flagged[0], ledger.name, "ezugi")
        assert flagged[0].verification.status == "FLAGGED"
        settled = rounds_view.rounds(by_provider[BRIDGE_SETTLED].rounds[1], ledger.name, "evo")
        assert {b.status for b in settled[0].bets} <= {"SETTLED", "REFUNDED"}
    finally:
        balances.close()
        rounds_view.close()

    # Check an event offered twice is refused and changes nothing (exactly-once).
    spec = VIEWS["balances"]
    view = open_view(spec.projection_class, spec.view_class, env)
    try:
        projection = spec.projection_class(view)
        notification = ledger.recorder.select_notifications(position, 1)[0]
        with pytest.raises(IntegrityError):
            projection.process_event(
                ledger.mapper.to_domain_event(notification), Tracking(ledger.name, position)
            )
    finally:
        view.close()
    report_ = rebuild(ledger, spec.projection_class, spec.view_class, env, swap=False)
    assert report_.ok, "\n".join(report_.lines())


def test_a_rebuild_swaps_in_under_running_projections_and_they_carry_on(
    ledger: Ledger, env: dict[str, str]
) -> None:
    fund(ledger, 6)
    play(ledger, rounds=10, player_count=6, seed=21)
    with running_projections(env, batched=False) as running:
        # The tables keep playing while each view is rebuilt and swapped in.
        playing = threading.Thread(
            target=play, kwargs={"ledger": ledger, "rounds": 15, "first": 10, "player_count": 6}
        )
        playing.start()
        try:
            for spec in VIEWS.values():
                report = rebuild(ledger, spec.projection_class, spec.view_class, env)
                assert report.ok, "\n".join(report.lines())
                assert report.swapped and not report.live_was_empty
        finally:
            playing.join()
        position = ledger.recorder.max_notification_id()
        running.wait(position, timeout=60)
        # The runners wrote on into the swapped-in tables: nothing lost, nothing twice.
        for spec in VIEWS.values():
            report = rebuild(ledger, spec.projection_class, spec.view_class, env, swap=False)
            assert report.ok, "\n".join(report.lines())
            assert report.position == position
        for n in range(6):
            wallet = running.balances.wallet(f"p{n:03d}", ledger.name)
            assert wallet is not None
            for row in wallet.balances:
                assert row.balance == ledger.balance(f"p{n:03d}", row.currency).balance
