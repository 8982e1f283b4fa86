"""A void the round book could not carry out, on JetStream with the views in PostgreSQL.

The round's audit flags (its own, then its book's `VOID_UNRECOVERABLE` ones) are what the
dispute API serves, what `livebridge replay` finds in the log (read by aggregate), what a
rebuilt view holds, and what a round the view lost shows from the log alone.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer

from projections import commands
from projections.http import VIEWS
from projections.http import setup_views
from projections.rebuild import open_view
from projections.rebuild import rebuild
from projections.rounds.postgres import PostgresRoundsView
from projections.rounds.projection import RoundsProjection
from projections.run import running_projections
from services.ledger.application import Ledger
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play
from tests.integration.projections.support.cli import replay
from tests.integration.projections.support.cli import use_settings
from tests.integration.projections.support.tampering import forget_round
from tests.unit.projections.support.hand_rounds import unrecoverable_void

ROUND = "void-1"


async def test_the_dispute_api_lists_the_flags_of_a_void_the_book_could_not_carry_out(
    env: dict[str, str], ledger: Ledger
) -> None:
    fund(ledger, 3)
    play(ledger, rounds=3, player_count=3, seed=4)
    app = web.Application()
    setup_views(app, env)
    async with TestClient(TestServer(app)) as client:
        # The round is played while the views run: they record its flags live.
        unrecoverable_void(ledger, ROUND)
        position = ledger.recorder.max_notification_id()
        assert position is not None
        await asyncio.to_thread(app[VIEWS].wait, position, 30)

        response = await client.get(f"/disputes/v1/rounds/{ROUND}")

        assert response.status == 200
        record = await response.json()
        state = ledger.round_state("evo", ROUND)
        assert record["verification"]["auditFlags"] == list(state.audit_flags)
        assert [f.split(":")[0] for f in state.audit_flags] == [
            "seq 1 repeated with a different payload",
            "VOID_UNRECOVERABLE",
            "VOID_UNRECOVERABLE",
        ]
        flagged = [t for t in record["timeline"] if t["event"] == "RoundBook.BetFlagged"]
        assert [t["detail"]["flag"] for t in flagged] == list(state.audit_flags[1:])


def test_replay_and_rebuild_agree_with_the_log_on_a_round_book_flag(
    env: dict[str, str],
    ledger: Ledger,
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fund(ledger, 3)
    play(ledger, rounds=3, player_count=3, seed=4)
    unrecoverable_void(ledger, ROUND)
    position = ledger.recorder.max_notification_id()
    with running_projections(env, batched=False) as views:
        views.wait(position, timeout=30)
    use_settings(monkeypatch, env, database_url, schema)
    flags = list(ledger.round_state("evo", ROUND).audit_flags)

    # Replay reads the round, its book and its bets by aggregate: the view agrees.
    status, text = replay(ROUND)
    assert status == 0, text
    assert "the view and the log agree" in text
    for flag in flags:
        assert f"  audit flag: {flag}" in text

    # A view rebuilt from the log holds the same rows as the live one.
    report = rebuild(ledger, RoundsProjection, PostgresRoundsView, env, swap=False)
    assert report.ok, "\n".join(report.lines())

    # The view loses the round: replay shows it from the log alone, flags and all.
    view = open_view(RoundsProjection, PostgresRoundsView, env)
    try:
        assert isinstance(view, PostgresRoundsView)
        (kept,) = view.rounds(ROUND, ledger.name)
    finally:
        view.close()
    forget_round(database_url, schema, kept.round_key)
    status, out = replay(ROUND, as_json=True)
    assert status == commands.EXIT_DIFFERENT
    (from_log,) = json.loads(out)
    assert from_log["round"]["verification"]["auditFlags"] == flags == kept.verification.audit_flags
    assert [t["position"] for t in from_log["round"]["timeline"]] == [
        t.position for t in kept.timeline
    ]
