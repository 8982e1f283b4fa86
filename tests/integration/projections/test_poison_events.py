"""A poison event never stops a view: it is parked, counted, and the view goes on.

Narrative: a debit whose transaction and round ids hold NUL (which PostgreSQL text cannot
hold) is written straight to the ledger, bypassing the edge's id policy, between two good
debits. Every view runs over the log (batched, as the bridge runs them, and one event per
transaction, as the library's runner does): the poison event is parked in each view that
stores it (rounds, reconcile) with its log position and reason, the later debit arrives,
and a rebuild reaches the log's head with the same parked event and swaps in. A rebuild
whose live view stopped short of the log's head is not reported as a success.
"""

from __future__ import annotations

import argparse
import io
import uuid
from decimal import Decimal

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.projection import ProjectionRunner

from projections.catalog import VIEWS
from projections.commands import parked_events
from projections.pgview import PostgresView
from projections.rebuild import catch_up
from projections.rebuild import open_view
from projections.rebuild import rebuild
from projections.run import running_projections
from services.ledger.application import Ledger
from tests.unit.ledger.support.builders import player_bet

POISON_TX = "d-\u0000-poison"


def play(ledger: Ledger) -> int:
    """Two good debits around a poison one; the last log position before the poison."""
    ledger.open_wallet("alice", "EUR")
    ledger.deposit("alice", "EUR", Decimal("100.00"), tx_id="dep-alice")
    ledger.execute(player_bet("d-before", "alice", "1.00", "R-1"))
    before = ledger.recorder.max_notification_id() or 0
    ledger.execute(player_bet(POISON_TX, "alice", "1.00", "R-\u0000-2"))
    ledger.execute(player_bet("d-after", "alice", "1.00", "R-3"))
    return before


def assert_parked_and_went_on(view: PostgresView[object], name: str, first_poison: int) -> None:
    parked = view.parked(Ledger.name)
    assert parked, f"{name}: nothing parked"
    assert all(p.position > first_poison for p in parked)
    assert any("NUL" in p.reason or "0x00" in p.reason for p in parked), parked
    assert view.parked_count(Ledger.name) == len(parked)


def test_the_rounds_and_reconcile_views_park_a_poison_event_and_go_on(
    ledger: Ledger, env: dict[str, str]
) -> None:
    first_poison = play(ledger)
    head = ledger.recorder.max_notification_id()
    with running_projections(env) as views:
        views.wait(head, timeout=30)
        for name in ("rounds", "reconcile"):
            assert_parked_and_went_on(views.readers[name], name, first_poison)
        assert [r.round_id for r in views.rounds.rounds("R-3", Ledger.name, "evo")] == ["R-3"]
        assert views.balances.wallet("alice", Ledger.name) is not None
    for name in ("rounds", "reconcile"):
        spec = VIEWS[name]
        report = rebuild(ledger, spec.projection_class, spec.view_class, env)
        assert report.ok and report.swapped, report.lines()
        assert report.position == head and report.parked >= 1, report.lines()


def test_livebridge_projections_parked_lists_them_and_exits_1(
    ledger: Ledger, ledger_env: dict[str, str], env: dict[str, str], database_url: str, schema: str
) -> None:
    first_poison = play(ledger)
    with running_projections(env) as views:
        views.wait(ledger.recorder.max_notification_id(), timeout=30)
    out = io.StringIO()
    cli_env = {**ledger_env, "LIVEBRIDGE_DATABASE_URL": database_url}
    cli_env["LIVEBRIDGE_VIEWS_SCHEMA"] = schema
    status = parked_events(argparse.Namespace(name=None, limit=5), cli_env, out)
    lines = out.getvalue().splitlines()
    assert status == 1, lines
    assert "balances: 0 parked" in lines
    assert "rounds: 0 parked" not in lines and "reconcile: 0 parked" not in lines
    positions = [int(line.split()[1][:-1]) for line in lines if line.startswith("    position")]
    assert len(positions) == 2 and min(positions) > first_poison, lines


def test_one_event_per_transaction_the_library_runner_parks_it_too(
    ledger: Ledger, env: dict[str, str]
) -> None:
    first_poison = play(ledger)
    head = ledger.recorder.max_notification_id()
    spec = VIEWS["reconcile"]
    runner: ProjectionRunner[Ledger, PostgresView[object]] = ProjectionRunner(
        application_class=Ledger,
        projection_class=spec.projection_class,
        view_class=spec.view_class,
        env=env,
    )
    with runner:
        runner.wait(head, timeout=30)
        assert_parked_and_went_on(runner.view, "reconcile", first_poison)


@pytest.mark.parametrize("name", ["rounds", "reconcile"])
def test_a_rebuild_of_a_view_short_of_the_logs_head_is_no_success(
    ledger: Ledger, env: dict[str, str], name: str
) -> None:
    play(ledger)
    head = ledger.recorder.max_notification_id() or 0
    spec = VIEWS[name]
    live = open_view(spec.projection_class, spec.view_class, env)
    try:
        catch_up(ledger, spec.projection_class(live), stop=head - 2)  # a stalled view
    finally:
        live.close()
    report = rebuild(ledger, spec.projection_class, spec.view_class, env, stall_s=0.5)
    assert not report.ok and not report.swapped, report.lines()
    assert "short of the log's head" in report.lines()[-1]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one-by-one"])
def test_an_event_no_view_can_decode_is_parked_by_either_runner_and_the_views_go_on(
    ledger: Ledger, env: dict[str, str], batched: bool
) -> None:
    # The runners are running (so the one-by-one runner's own loop meets the event, not
    # the batched catch-up before it) when a message whose topic names no class lands.
    ledger.open_wallet("alice", "EUR")
    with running_projections(env, batched=batched) as views:
        views.wait(ledger.recorder.max_notification_id(), timeout=30)
        positions = ledger.recorder.insert_events(
            [StoredEvent(uuid.uuid4(), 1, "services.ledger.domain:Gone", b"{}")]
        )
        assert positions is not None
        (undecodable,) = positions
        ledger.deposit("alice", "EUR", Decimal("5.00"), tx_id="dep-after")
        views.wait(ledger.recorder.max_notification_id(), timeout=30)
        for name, view in views.readers.items():
            parked = view.parked(Ledger.name)
            assert [(p.position, p.what) for p in parked] == [
                (undecodable, "services.ledger.domain:Gone")
            ], name
            assert "cannot decode" in parked[0].reason, parked
        found = views.balances.wallet("alice", Ledger.name)
        assert found is not None, "the deposit after it never reached the balances view"
        assert [b.balance for b in found.balances] == [Decimal("5.00")], found
