"""I7: a view rebuilt from the log equals the view built live, row for row.

The log comes from driving the ledger through thousands of roulette rounds with repeated
debits and credits, rollbacks, late bets, wrong round hashes and voids (see `projections.playlog`).
The ledger runs on the library's in-memory store for the big log so that thousands of
rounds fit in seconds; the views are real PostgreSQL tables. The last test rebuilds and
swaps on JetStream under the library's `ProjectionRunner`s while the tables keep playing.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from projections.balances.postgres import PostgresBalancesView
from projections.playlog import fund, play
from projections.rebuild import catch_up, open_view, rebuild
from projections.rounds.postgres import PostgresRoundsView
from projections.rounds.replay import compare_with_ledger
from projections.run import VIEWS, ViewSpec, running_projections, view_env
from services.ledger.application import Ledger

ROUNDS = 1000
PER_EVENT_ROUNDS = 80


@pytest.fixture
def popo_ledger() -> Iterator[Ledger]:
    app = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


def follow_one_by_one(ledger: Ledger, spec: ViewSpec, env: dict[str, str]) -> int:
    """What `ProjectionRunner` does: each event in its own transaction with its tracking."""
    view = open_view(spec.projection_class, spec.view_class, env)
    projection = spec.projection_class(view)
    applied = 0
    try:
        start = view.max_tracking_id(ledger.name) or 0
        for notification in ledger.recorder.select_notifications(start + 1, 1_000_000):
            event = ledger.mapper.to_domain_event(notification)
            projection.process_event(event, Tracking(ledger.name, notification.id))
            applied += 1
    finally:
        view.close()
    return applied


def follow_in_ragged_batches(
    ledger: Ledger, spec: ViewSpec, env: dict[str, str], rng: random.Random
) -> int:
    """Live catch-up in batches whose edges fall anywhere (1 to 700 events)."""
    view = open_view(spec.projection_class, spec.view_class, env)
    try:
        projection = spec.projection_class(view)
        return catch_up(ledger, projection, page=rng.randint(1, 700))
    finally:
        view.close()


def test_views_rebuilt_from_the_log_equal_the_views_built_live(
    popo_ledger: Ledger, database_url: str, schema: str
) -> None:
    ledger = popo_ledger
    env = view_env(database_url, schema=schema)
    rng = random.Random(5)

    # The first rounds are followed the way the library's runner does it: one event,
    # one transaction.
    fund(ledger, 40)
    played = play(ledger, rounds=PER_EVENT_ROUNDS, player_count=40)
    for spec in VIEWS.values():
        follow_one_by_one(ledger, spec, env)

    # Then the tables keep playing while the views follow in ragged batches, and one
    # rebuild-and-swap happens half way, under the live views' feet.
    first = PER_EVENT_ROUNDS
    while first < ROUNDS:
        count = min(rng.randint(20, 200), ROUNDS - first)
        more = play(ledger, rounds=count, first=first, player_count=40)
        played.rounds += more.rounds
        played.voided += more.voided
        played.flagged += more.flagged
        played.refused += more.refused
        first += count
        for spec in VIEWS.values():
            follow_in_ragged_batches(ledger, spec, env, rng)
        if first >= ROUNDS // 2 and first - count < ROUNDS // 2:
            for spec in VIEWS.values():
                report = rebuild(ledger, spec.projection_class, spec.view_class, env)
                assert report.ok, "\n".join(report.lines())
                assert report.swapped

    # Check the log holds what the test is about.
    assert len(played.rounds) == ROUNDS
    assert played.voided and played.flagged and played.refused
    position = ledger.recorder.max_notification_id()
    assert position is not None and position > 20 * ROUNDS

    # Check every view, rebuilt from scratch, equals the live one row for row.
    for spec in VIEWS.values():
        report = rebuild(ledger, spec.projection_class, spec.view_class, env)
        assert report.ok, "\n".join(report.lines())
        assert report.position == position
        assert report.events == position

    # Check the live views also say what the ledger says (an independent calculation).
    balances = open_view(VIEWS["balances"].projection_class, PostgresBalancesView, env)
    rounds = open_view(VIEWS["rounds"].projection_class, PostgresRoundsView, env)
    try:
        assert isinstance(balances, PostgresBalancesView)
        assert isinstance(rounds, PostgresRoundsView)
        for n in range(40):
            player = f"p{n:03d}"
            wallet = balances.wallet(player, ledger.name)
            assert wallet is not None and wallet.position == position
            for row in wallet.balances:
                truth = ledger.balance(player, row.currency)
                assert (row.balance, row.held, row.available) == (
                    truth.balance,
                    truth.held,
                    truth.available,
                ), player
        for round_id in rng.sample(played.rounds, 150) + played.voided + played.flagged:
            (record,) = rounds.rounds(round_id, ledger.name)
            assert compare_with_ledger(record, ledger.round_state("evo", round_id)) == []
        voided = rounds.rounds(played.voided[0], ledger.name)[0]
        assert voided.status == "VOIDED"
        assert all(b.status == "REFUNDED" for b in voided.bets)
        flagged = rounds.rounds(played.flagged[0], ledger.name)[0]
        assert flagged.verification.status == "FLAGGED"
    finally:
        balances.close()
        rounds.close()

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
    report = rebuild(ledger, spec.projection_class, spec.view_class, env, swap=False)
    assert report.ok, "\n".join(report.lines())


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
