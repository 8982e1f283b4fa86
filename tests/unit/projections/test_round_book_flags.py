"""A void the round book could not carry out: the view and replay show its audit flags.

The ledger runs on the library's in-memory store (the log is scanned, not read by
aggregate); the JetStream reads and the PostgreSQL view are in tests/integration.
"""

from __future__ import annotations

import msgspec
import pytest

from projections.rounds.projection import RoundsProjection
from projections.rounds.replay import replay_from_log
from projections.rounds.replay import replay_round
from projections.rounds.round_from_log import fold
from projections.rounds.round_from_log import round_notifications
from projections.rounds.view import RoundRecord
from projections.rounds.view import TimelineEntry
from services.ledger.application import Ledger
from services.ledger.domain import bet_uuid
from tests.unit.ledger.support.builders import popo_ledger
from tests.unit.projections.support.hand_rounds import unrecoverable_void
from tests.unit.projections.support.project_log import project_log
from tests.unit.projections.support.rounds_views import Collector
from tests.unit.projections.support.rounds_views import OneRound


@pytest.fixture
def ledger() -> Ledger:
    ledger = popo_ledger()
    unrecoverable_void(ledger)
    return ledger


def folded(ledger: Ledger) -> RoundRecord:
    record = fold(ledger, "evo", "r1", round_notifications(ledger, "evo", "r1"), 0)
    assert record is not None
    return record


def test_the_projection_files_each_book_flag_under_its_bet(ledger: Ledger) -> None:
    view = Collector()
    projection = RoundsProjection(view)
    project_log(ledger, projection)

    flags = [
        c
        for c in view.changes
        if isinstance(c, TimelineEntry) and c.event == "RoundBook.BetFlagged"
    ]
    assert [c.bet_key for c in flags] == [bet_uuid("evo", "b1").hex, bet_uuid("evo", "b2").hex]
    assert all(c.round_key is None for c in flags)
    assert [c.detail["flag"] for c in flags] == list(
        ledger.round_state("evo", "r1").audit_flags[1:]
    )


def test_the_rounds_view_lists_the_rounds_flags_then_its_books_as_the_ledger_does(
    ledger: Ledger,
) -> None:
    record = folded(ledger)

    state = ledger.round_state("evo", "r1")
    assert record.verification.audit_flags == list(state.audit_flags)
    conflict, first, second = record.verification.audit_flags
    assert conflict == "seq 1 repeated with a different payload"
    assert first.startswith("VOID_UNRECOVERABLE: bet evo/b1 of player 'p1' stays settled")
    assert second.startswith("VOID_UNRECOVERABLE: bet evo/b2 of player 'p2' stays settled")
    # The flags are on the round's timeline too, after the void, under their bets.
    events = [t.event for t in record.timeline]
    assert events.index("provider:round.void") < events.index("RoundBook.BetFlagged")
    assert events.count("RoundBook.BetFlagged") == 2


def test_replaying_a_round_with_an_unrecoverable_void_agrees_with_the_log(
    ledger: Ledger,
) -> None:
    record = folded(ledger)

    (replay,) = replay_round(ledger, OneRound(record), "r1")

    assert replay.differences == []
    assert replay.state.audit_flags == ledger.round_state("evo", "r1").audit_flags
    # A round the view lacks, shown from the log alone, carries the same flags.
    (from_log,) = replay_from_log(ledger, "r1", ["evo"], 0)
    assert from_log.record == record
    assert from_log.state.audit_flags == replay.state.audit_flags


def test_replay_names_a_book_flag_the_view_lost(ledger: Ledger) -> None:
    whole = folded(ledger)
    lost = next(t for t in whole.timeline if t.event == "RoundBook.BetFlagged")
    without = msgspec.structs.replace(
        whole,
        timeline=[t for t in whole.timeline if t.position != lost.position],
        verification=msgspec.structs.replace(
            whole.verification,
            audit_flags=[f for f in whole.verification.audit_flags if f != lost.detail["flag"]],
        ),
    )

    (replay,) = replay_round(ledger, OneRound(without), "r1")

    assert any(d.startswith("round audit_flags: view") for d in replay.differences)
    assert "timeline lists 1 audit flags of the round book; the log has 2" in replay.differences
