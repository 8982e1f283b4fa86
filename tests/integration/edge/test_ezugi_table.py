"""Ezugi end to end: a live table over HTTP, the push feed, the real ledger on JetStream."""

from __future__ import annotations

import asyncio

import pytest

from services.ledger.views import Verification
from services.simulate.clients.base import HttpTransport
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.drivers import EzugiDriver
from services.simulate.simulation import simulate
from services.simulate.table import Chaos
from tests.integration.edge.simrig import served_bridge, table_size
from tests.integration.edge.walletrig import provider

SECRET = "ezugi-TEST-ONLY-secret"
OPERATOR = 10178001
PLAYERS, ROUNDS = table_size()


@pytest.mark.timeout(900)
async def test_a_table_of_50_players_leaves_the_balances_the_books_expect(
    nats_url: str, stream_prefix: str
) -> None:
    config = provider("ezugi", SECRET.encode(), operator_id=OPERATOR)
    async with served_bridge(nats_url, stream_prefix, config) as bridge:
        client = EzugiClient(HttpTransport(bridge.http, bridge.base("ezugi")), SECRET, OPERATOR)
        report = await simulate(
            driver=EzugiDriver(client),
            push=bridge.push,
            bank=bridge.bank,
            provider="ezugi",
            players=PLAYERS,
            rounds=ROUNDS,
            seed=5,
            # Pre-rollbacks wait for the ledger to mark a rollback that found nothing
            # `absorbed` (contracts.wallet); the fake-ledger table test covers them.
            chaos=Chaos(rollback_before=0.0),
        )
        assert report.ok, report.mismatches
        assert report.books.rolled_back and report.books.duplicates
        assert bridge.feed.stats.gaps == 0 and bridge.feed.stats.recorded > ROUNDS * 4
        for round_id in report.books.rounds:
            state = await asyncio.to_thread(bridge.ledger.round_state, "ezugi", round_id)
            assert state.verification is Verification.VERIFIED, (round_id, state.audit_flags)
