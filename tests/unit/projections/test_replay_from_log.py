"""Replay reads a round from the log alone: its record, its wallet movements, a reopened bet.

The ledger runs on the library's in-memory store: the log is scanned instead of read by
aggregate (the JetStream reads are tested in tests/integration/projections).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from projections.rounds.replay import compare_with_ledger
from projections.rounds.replay import replay_from_log
from projections.rounds.replay import replay_round
from projections.rounds.round_from_log import fold
from projections.rounds.round_from_log import round_notifications
from services.ledger.application import Ledger
from services.simulate.roulette_log import PROVIDER
from services.simulate.roulette_log import START
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play
from tests.unit.ledger.support import builders as b
from tests.unit.projections.support.rounds_views import OneRound


def test_a_round_folded_from_the_log_alone_agrees_with_the_ledger() -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    fund(ledger, 4)
    played = play(ledger, rounds=12, player_count=4, seed=9)
    position = ledger.recorder.max_notification_id() or 0
    for round_id in played.rounds:
        events = round_notifications(ledger, PROVIDER, round_id)
        record = fold(ledger, PROVIDER, round_id, events, position)

        assert record is not None
        assert compare_with_ledger(record, ledger.round_state(PROVIDER, round_id)) == []
        assert [t.position for t in record.timeline] == [n.id for n in events]
        (replay,) = replay_round(ledger, OneRound(record), round_id)
        assert replay.differences == [], round_id

    assert fold(ledger, PROVIDER, "no-such-round", [], position) is None
    assert replay_from_log(ledger, "no-such-round", [PROVIDER], position) == []


def test_replay_names_a_wallet_movement_the_view_does_not_list() -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    fund(ledger, 4)
    played = play(ledger, rounds=6, player_count=4, seed=3)
    round_id = next(r for r in played.rounds if r not in played.voided)
    whole = fold(ledger, PROVIDER, round_id, round_notifications(ledger, PROVIDER, round_id), 0)
    assert whole is not None
    held = next(t for t in whole.timeline if t.event == "Wallet.StakeHeld")
    # The view lost one hold: every other line still checks out, and the counts of the
    # round's and the bets' own events are right.
    lost = msgspec.structs.replace(
        whole, timeline=[t for t in whole.timeline if t.position != held.position]
    )

    (replay,) = replay_round(ledger, OneRound(lost), round_id)

    bet_id = next(b.bet_id for b in whole.bets if b.bet_key == held.detail.get("bet", b.bet_key))
    assert any(
        d.startswith("timeline lacks Wallet.StakeHeld of bet ")
        and d.endswith(f"at log position {held.position}")
        for d in replay.differences
    ), replay.differences
    assert bet_id


def test_a_bet_whose_credit_is_rolled_back_is_open_again_in_the_round() -> None:
    ledger = b.popo_ledger()
    b.funded(ledger, "alice", "100.00")
    ledger.record_event(b.opened("R-1", "hub88", table="T", at=START))
    seat = {"provider": "hub88", "player": "alice", "round_id": "R-1", "bet_id": "b1"}
    ledger.execute(b.debit("d1", "5.00", picks=(("roulette_red", ""),), **seat))
    ledger.record_event(b.closed("R-1", "hub88", at=START))
    ledger.record_event(b.declared({"number": "2"}, "R-1", "hub88", at=START))
    ledger.execute(b.credit("c1", "10.00", **seat))
    ledger.execute(b.rollback("rb-c1", "c1", player="alice", provider="hub88", round_id="R-1"))

    record = fold(ledger, "hub88", "R-1", round_notifications(ledger, "hub88", "R-1"), 0)

    assert record is not None
    (bet,) = record.bets
    assert (bet.status, bet.payout, bet.outcome) == ("OPEN", Decimal(0), None)
    assert [t.event for t in record.timeline if t.originator_id == bet.bet_key] == [
        "Bet.Placed",
        "Bet.Settled",
        "Bet.Reopened",
    ]
    assert compare_with_ledger(record, ledger.round_state("hub88", "R-1")) == []


def test_a_round_known_only_from_its_bets_replays_without_a_false_difference() -> None:
    # A provider without a game-event feed: no Round aggregate, only bets that name the
    # game and table. The view and the rebuild both take them from the first bet.
    ledger = b.popo_ledger()
    b.funded(ledger, "alice", "100.00")
    seat = {"provider": "softswiss", "player": "alice", "round_id": "S-1", "bet_id": "b1"}
    ledger.execute(b.debit("d1", "5.00", picks=(), game="blackjack-7", table="T-9", **seat))

    record = fold(ledger, "softswiss", "S-1", round_notifications(ledger, "softswiss", "S-1"), 0)

    assert record is not None
    assert (record.game, record.table) == ("blackjack-7", "T-9")
    state = ledger.round_state("softswiss", "S-1")
    assert (state.game, state.table) == ("blackjack-7", "T-9")
    assert compare_with_ledger(record, state) == []
    (replay,) = replay_round(ledger, OneRound(record), "S-1")
    assert replay.differences == []
