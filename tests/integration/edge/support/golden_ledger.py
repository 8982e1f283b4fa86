"""The dialects' golden fixtures replayed on the real ledger over JetStream.

The same files as the unit tests (`tests/unit/edge/golden/*.json`); here the gateway runs
over `services.ledger.application.Ledger`, and `changes: false` compares every funded
player's balance, holds and availability before and after the step.

Every scenario of every dialect runs here, including those that `need` a ledger feature
(`rollback-absorbed`, `rollback-only-open`): the real ledger has them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.edge.adapters.base import EdgeContext
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.gateway import Gateway
from services.edge.ports import AsyncLedger
from services.edge.sessions import MemorySessionStore
from services.edge.sessions import Session
from services.ledger.application import Ledger
from tests.integration.support.ledgers import jetstream_ledger
from tests.unit.edge.support.wallet_gateway import NOW
from tests.unit.edge.support.wallet_gateway import GatewayTransport


@dataclass
class RealRig:
    ledger: Ledger
    sessions: MemorySessionStore
    gateway: Gateway
    players: list[str]

    def transport(self, pid: str) -> GatewayTransport:
        return GatewayTransport(self.gateway.gate(pid))

    def snapshot(self) -> object:
        return [self.ledger.balance(p, "EUR") for p in self.players]

    async def set_up(self, pid: str, scenario: dict[str, Any]) -> None:
        def fund() -> None:
            for player, amount in scenario.get("funds", {}).items():
                self.ledger.open_wallet(player, "EUR")
                self.ledger.deposit(player, "EUR", Decimal(amount), tx_id=f"open-{player}")
                self.players.append(player)

        await asyncio.to_thread(fund)
        for token, who in scenario.get("sessions", {}).items():
            player, ttl = (who, 3600) if isinstance(who, str) else (who["player"], who["ttl"])
            self.sessions.put(
                Session(
                    token=token,
                    provider=pid,
                    player=player,
                    currency="EUR",
                    issued_at=NOW,
                    expires_at=NOW + ttl,
                )
            )


@asynccontextmanager
async def real_rig(
    nats_url: str, stream_prefix: str, provider: ProviderConfig
) -> AsyncIterator[RealRig]:
    ledger = jetstream_ledger(nats_url, stream_prefix)
    sessions = MemorySessionStore(clock=lambda: NOW)
    async_ledger = AsyncLedger(ledger, workers=4)
    context = EdgeContext(ledger=async_ledger, sessions=sessions, clock=lambda: NOW)
    try:
        yield RealRig(ledger, sessions, Gateway(ProvidersConfig((provider,)), context), [])
    finally:
        async_ledger.close()
        await asyncio.to_thread(ledger.close)
