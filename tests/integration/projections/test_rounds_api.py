"""The views as the platform and dispute agents see them, on a ledger whose log is JetStream.

The views are kept up to date by `running_projections` (the library's `ProjectionRunner`
per view, or the batched runner), read over real HTTP, replayed with the CLI's `replay`,
tampered with, and rebuilt.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
from decimal import Decimal

import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer

from projections import commands
from projections.http import VIEWS
from projections.http import setup_views
from projections.run import running_projections
from services.ledger.application import Ledger
from services.simulate.roulette_log import PROVIDER
from services.simulate.roulette_log import fund
from services.simulate.roulette_log import play
from tests.integration.projections.support.cli import replay
from tests.integration.projections.support.cli import use_settings


async def test_the_platform_and_dispute_agents_read_the_views_over_http(
    env: dict[str, str], ledger: Ledger
) -> None:
    # Rounds played before the views start are caught up at start; the rest live.
    fund(ledger, 6)
    played = play(ledger, rounds=6, player_count=6)
    app = web.Application()
    setup_views(app, env)
    async with TestClient(TestServer(app)) as client:
        views = app[VIEWS]
        played.rounds += play(ledger, rounds=6, first=6, player_count=6).rounds
        position = ledger.recorder.max_notification_id()
        assert position is not None
        await asyncio.to_thread(views.wait, position, 30)
        # Check a player's balances, per currency, with the log position.
        response = await client.get("/platform/v1/wallets/p001")
        assert response.status == 200
        body = await response.json()
        assert body["player"] == "p001"
        assert body["logPosition"] == position
        for row in body["balances"]:
            truth = ledger.balance("p001", row["currency"])
            assert Decimal(row["balance"]) == truth.balance
            assert Decimal(row["held"]) == truth.held
            assert Decimal(row["available"]) == truth.available
            assert 0 < row["logPosition"] <= position
        assert {row["currency"] for row in body["balances"]} == {"EUR", "USD"}

        # Check read-your-writes: a position the view has reached answers at once...
        response = await client.get(f"/platform/v1/wallets/p001?atLeast={position}")
        assert response.status == 200
        # ...one it has not reached says so, after a bounded wait.
        response = await client.get(f"/platform/v1/wallets/p001?atLeast={position + 10**6}")
        assert response.status == 503
        assert (await response.json())["error"] == "LBRG-503 VIEW_BEHIND"

        # Check one round: timeline in log order with provider seq and timecodes.
        round_id = played.rounds[7]
        response = await client.get(f"/disputes/v1/rounds/{round_id}")
        assert response.status == 200
        record = await response.json()
        assert record["roundId"] == round_id and record["provider"] == PROVIDER
        positions = [item["position"] for item in record["timeline"]]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        provider_lines = [i for i in record["timeline"] if i["providerSeq"] is not None]
        assert [i["providerSeq"] for i in provider_lines][:2] == [1, 2]
        assert all(i["videoTimecode"].startswith("01:") for i in provider_lines)
        state = ledger.round_state(PROVIDER, round_id)
        assert record["status"] == state.status.value
        assert record["verification"]["status"] == state.verification.value
        assert record["verification"]["bridgeDigest"] == state.digest
        assert {b["betKey"] for b in record["bets"]} == {b.bet_key for b in state.bets}
        for bet in record["bets"]:
            assert bet["selections"] and bet["stake"]

        # Check unknown ids get a clear error, not a 500.
        response = await client.get("/disputes/v1/rounds/no-such-round")
        assert response.status == 404
        error = await response.json()
        assert error["error"] == "LBRG-404 ROUND_NOT_FOUND"
        assert "no-such-round" in error["message"]
        response = await client.get("/platform/v1/wallets/nobody")
        assert response.status == 404
        assert (await response.json())["error"] == "LBRG-404 WALLET_NOT_FOUND"
        response = await client.get("/platform/v1/wallets/p001?atLeast=soon")
        assert response.status == 400


def test_replay_prints_the_round_and_agrees_with_the_log_and_catches_a_tampered_view(
    env: dict[str, str],
    ledger: Ledger,
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fund(ledger, 5)
    played = play(ledger, rounds=30, player_count=5, seed=11)
    position = ledger.recorder.max_notification_id()
    # This time the views follow the log with the library's ProjectionRunner.
    with running_projections(env, batched=False) as views:
        views.wait(position, timeout=30)
    use_settings(monkeypatch, env, database_url, schema)

    # Check a settled round, a voided one and a flagged one replay and agree.
    settled = next(r for r in played.rounds if r not in played.voided + played.flagged)
    for round_id in [settled, played.voided[0], played.flagged[0]]:
        status, text = replay(round_id)
        assert status == 0, text
        assert f"Round {round_id} at {PROVIDER}" in text
        assert "provider:round.betting_opened" in text
        assert "the view and the log agree" in text
    assert "FLAGGED" in text

    # Check an unknown round exits 2.
    status, _ = replay("nope")
    assert status == commands.EXIT_NOT_FOUND

    # Tamper with the view: one bet's payout. Replay must notice, and name it.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f'UPDATE "{schema}".rounds_bets SET payout = payout + 1 WHERE round_id = %s',
            (settled,),
        )
    status, text = replay(settled)
    assert status == commands.EXIT_DIFFERENT
    assert "payout: view" in text

    # Move one provider event to another log position, and drop one bet event: replay
    # names both.
    other = played.voided[0]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            f'UPDATE "{schema}".rounds_timeline SET position = position + 1000000 '
            "WHERE event = 'provider:round.betting_closed' AND round_key = "
            f'(SELECT round_key FROM "{schema}".rounds_rounds WHERE round_id = %s)',
            (settled,),
        )
        conn.execute(
            f'DELETE FROM "{schema}".rounds_timeline WHERE event = %s AND bet_key IN '
            f'(SELECT bet_key FROM "{schema}".rounds_bets WHERE round_id = %s)',
            ("Bet.Refunded", other),
        )
    status, text = replay(settled)
    assert status == commands.EXIT_DIFFERENT
    assert "the log has no event of" in text
    status, text = replay(other)
    assert status == commands.EXIT_DIFFERENT
    assert "timeline lists 1 events, the log has 2" in text

    # A rebuild finds the tampered rows, reports them, and swaps nothing.
    out = io.StringIO()
    assert (
        commands.rebuild_views(argparse.Namespace(name="rounds", swap=True), os.environ, out=out)
        == 1
    )
    assert "rounds_bets" in out.getvalue() and "nothing swapped" in out.getvalue()
    # The balances view was never touched: rebuilt, identical, swapped.
    out = io.StringIO()
    assert (
        commands.rebuild_views(argparse.Namespace(name="balances", swap=True), os.environ, out=out)
        == 0
    )
    assert "no differences; swapped in" in out.getvalue()
