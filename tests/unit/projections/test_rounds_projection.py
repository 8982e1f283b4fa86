"""The round projection files every event of a round under the round, in log order."""

from __future__ import annotations

from projections.rounds.projection import RoundsProjection
from projections.rounds.replay import NEARBY
from projections.rounds.view import BetFields
from projections.rounds.view import RoundFields
from projections.rounds.view import TimelineEntry
from services.eventstore import runs
from services.ledger.application import Ledger
from services.ledger.domain import bet_uuid
from services.ledger.domain import round_uuid
from services.simulate.roulette_log import PROVIDER
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play
from tests.unit.projections.support.project_log import project_log
from tests.unit.projections.support.rounds_views import Collector


def test_a_rounds_provider_events_bets_and_money_land_on_its_timeline() -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    fund(ledger, 4)
    played = play(ledger, rounds=12, player_count=4, seed=9)
    view = Collector()
    projection = RoundsProjection(view)
    project_log(ledger, projection)

    round_id = next(r for r in played.rounds if r not in played.voided)
    key = round_uuid(PROVIDER, round_id).hex
    state = ledger.round_state(PROVIDER, round_id)
    bet_keys = {b.bet_key for b in state.bets}
    mine = [
        c
        for c in view.changes
        if isinstance(c, TimelineEntry) and (c.round_key == key or c.bet_key in bet_keys)
    ]
    # The provider's events, in their seq order, with their video timecodes.
    provider = [c for c in mine if c.provider_seq is not None]
    assert [c.provider_seq for c in provider] == [1, 2, 3, 4]
    assert [c.event for c in provider] == [
        "provider:round.betting_opened",
        "provider:round.betting_closed",
        "provider:round.game_event",
        "provider:round.result",
    ]
    assert all(c.video_timecode for c in provider)
    # Each bet: placed, its stake held, then settled and captured, or refunded and released.
    for bet in state.bets:
        events = [c.event for c in mine if c.bet_key == bet.bet_key]
        assert events[:2] in (
            ["Bet.Placed", "Wallet.StakeHeld"],
            ["Wallet.StakeHeld", "Bet.Placed"],
        )
        if bet.status == "REFUNDED":
            assert "Bet.Refunded" in events and "Wallet.HoldReleased" in events
        else:
            assert "Bet.Settled" in events and "Wallet.HoldCaptured" in events
    # Log order, one line per event.
    positions = [c.position for c in mine]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    # Header and bet fields.
    fields = [c for c in view.changes if isinstance(c, RoundFields) and c.round_key == key]
    assert any(f.fields.get("game") == "roulette" for f in fields)
    assert any(f.fields.get("verification") == state.verification.value for f in fields)
    first_bet = bet_uuid(PROVIDER, f"{round_id}-b0").hex
    placed = [c for c in view.changes if isinstance(c, BetFields) and c.bet_key == first_bet]
    assert placed and placed[0].fields["round_id"] == round_id


def test_nearby_log_positions_are_read_together() -> None:
    assert runs([40, 3, 5, 18, 100, 101, 102], NEARBY) == [[3, 5], [18], [40], [100, 101, 102]]
