"""`livebridge replay` on JetStream when the view is wrong or lacks the round entirely.

The round, its bets and their wallets are read by aggregate (direct gets on exact
subjects). A wallet movement the view lost is named; a round the view lost is shown from
the log alone, the same record the view had, with exit status 1.
"""

from __future__ import annotations

import json

import msgspec
import psycopg
import pytest

from projections import commands
from projections.rebuild import open_view
from projections.rounds.postgres import PostgresRoundsView
from projections.rounds.projection import RoundsProjection
from projections.run import running_projections
from services.ledger.application import Ledger
from services.simulate.roulette_log import PROVIDER
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play
from tests.integration.projections.support.cli import replay
from tests.integration.projections.support.cli import use_settings
from tests.integration.projections.support.tampering import forget_round


def test_replay_names_lost_wallet_movements_and_shows_a_lost_round_from_the_log(
    env: dict[str, str],
    ledger: Ledger,
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fund(ledger, 5)
    played = play(ledger, rounds=12, player_count=5, seed=11)
    position = ledger.recorder.max_notification_id()
    with running_projections(env) as views:
        views.wait(position, timeout=30)
    use_settings(monkeypatch, env, database_url, schema)
    settled = [r for r in played.rounds if r not in played.voided + played.flagged]
    view = open_view(RoundsProjection, PostgresRoundsView, env)
    assert isinstance(view, PostgresRoundsView)
    try:
        (kept,) = view.rounds(settled[1], ledger.name)
    finally:
        view.close()
    status, out = replay(settled[0], as_json=True)
    assert status == 0, out

    # The view loses one wallet movement of a bet: replay names it and its position.
    with psycopg.connect(database_url, autocommit=True) as conn:
        lost = conn.execute(
            f'DELETE FROM "{schema}".rounds_timeline WHERE position = (SELECT min(t.position) '
            f'FROM "{schema}".rounds_timeline t JOIN "{schema}".rounds_bets b '
            "ON b.bet_key = t.bet_key WHERE b.round_id = %s AND t.event = 'Wallet.HoldCaptured') "
            "RETURNING position",
            (settled[0],),
        ).fetchone()
    assert lost is not None
    status, out = replay(settled[0], as_json=True)
    assert status == commands.EXIT_DIFFERENT
    ((found,),) = [r["differences"] for r in json.loads(out)]
    assert found.startswith("timeline lacks Wallet.HoldCaptured of bet ")
    assert found.endswith(f"at log position {lost[0]}")

    # The view loses a whole bet: the round's book still lists it, and replay reads the
    # bet and the wallet movements written with it from the log.
    with psycopg.connect(database_url, autocommit=True) as conn:
        gone = conn.execute(
            f'DELETE FROM "{schema}".rounds_bets WHERE bet_key = (SELECT min(bet_key) FROM '
            f'"{schema}".rounds_bets WHERE round_id = %s) RETURNING bet_key, bet_id',
            (settled[2],),
        ).fetchone()
        assert gone is not None
        conn.execute(f'DELETE FROM "{schema}".rounds_timeline WHERE bet_key = %s', (gone[0],))
    status, out = replay(settled[2], as_json=True)
    assert status == commands.EXIT_DIFFERENT
    ((differences,),) = [[r["differences"] for r in json.loads(out)]]
    assert f"bet {gone[1]}: missing from the view" in differences
    lacked = {d.split(" of bet ")[0] for d in differences if d.startswith("timeline lacks")}
    assert lacked == {"timeline lacks Wallet.StakeHeld", "timeline lacks Wallet.HoldCaptured"}

    # The view loses a whole round: replay finds it in the log by the ledger's ids and
    # shows the record the view had, saying the view lacks it.
    forget_round(database_url, schema, kept.round_key)
    status, out = replay(settled[1], as_json=True)
    assert status == commands.EXIT_DIFFERENT
    (from_log,) = json.loads(out)
    assert from_log["agrees"] is False
    assert from_log["differences"][0].startswith(
        f"the dispute view has no round {settled[1]!r} of {PROVIDER}"
    )
    as_viewed = msgspec.json.decode(msgspec.json.encode(kept))
    assert from_log["round"]["timeline"] == as_viewed["timeline"]
    assert from_log["round"]["bets"] == as_viewed["bets"]
    assert from_log["round"]["status"] == kept.status == "SETTLED"

    # A round neither the view nor the log has: not found, and where it was looked for.
    capsys.readouterr()
    status, _ = replay("no-such-round", as_json=True)
    assert status == commands.EXIT_NOT_FOUND
    assert f"providers searched: {PROVIDER}" in capsys.readouterr().err
