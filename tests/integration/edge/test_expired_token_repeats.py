"""On the real ledger over JetStream: a debit repeated after its token expired gets its
original answer in every dialect and moves nothing, and a new debit on that token is
refused, moving nothing (the unit test `tests/unit/edge/test_expired_token_repeats.py`
runs the same scenario on the fake ledger)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from services.edge.adapters.base import EdgeContext
from services.edge.config import ProvidersConfig
from services.edge.gateway import Gateway
from services.edge.ports import AsyncLedger
from services.edge.sessions import MemorySessionStore, Session
from tests.integration.support.ledgers import jetstream_ledger
from tests.unit.edge.support.token_repeats import DIALECTS, TOKEN, TTL, Dialect, repeat_after_expiry
from tests.unit.edge.support.wallet_gateway import NOW, GatewayTransport, provider


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
async def test_a_debit_repeated_after_its_token_expired_gets_its_answer_from_the_ledger(
    dialect: Dialect, nats_url: str, stream_prefix: str
) -> None:
    clock = [NOW]
    ledger = jetstream_ledger(nats_url, stream_prefix)
    sessions = MemorySessionStore(clock=lambda: clock[0])
    async_ledger = AsyncLedger(ledger, workers=4)
    context = EdgeContext(ledger=async_ledger, sessions=sessions, clock=lambda: clock[0])
    config = provider(dialect.name, dialect.secret, options=dialect.options)
    gateway = Gateway(ProvidersConfig((config,)), context)

    def fund() -> None:
        ledger.open_wallet("u-1", "EUR")
        ledger.deposit("u-1", "EUR", Decimal(100), tx_id="open-u-1")

    def expire() -> None:
        clock[0] += TTL + 1

    async def snapshot() -> object:
        return await asyncio.to_thread(ledger.balance, "u-1", "EUR")

    try:
        await asyncio.to_thread(fund)
        sessions.put(
            Session(
                token=TOKEN,
                provider=dialect.name,
                player="u-1",
                currency="EUR",
                issued_at=NOW,
                expires_at=NOW + TTL,
            )
        )
        transport = GatewayTransport(gateway.gate(dialect.name))
        await repeat_after_expiry(dialect, transport, expire, snapshot)
    finally:
        async_ledger.close()
        await asyncio.to_thread(ledger.close)
