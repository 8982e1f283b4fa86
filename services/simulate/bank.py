"""The platform's side of a simulation, done directly on the ledger and the session store.

`LedgerBank` opens and funds wallets through the ledger's cashier commands and launches
players by issuing sessions in the edge's `SessionStore` (JetStream KV when the bridge
runs for real), exactly what the platform does before a player sits at a live table.
Ledger calls run in a thread: the ledger core is synchronous.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Protocol

from contracts.wallet import Balance
from services.edge.sessions import SessionStore


class Cashier(Protocol):
    def open_wallet(self, player: str, currency: str) -> None: ...

    def deposit(self, player: str, currency: str, amount: Decimal, *, tx_id: str) -> Balance: ...

    def balance(self, player: str, currency: str) -> Balance: ...


class LedgerBank:
    def __init__(self, ledger: Cashier, sessions: SessionStore, *, ttl_s: float = 4 * 3600):
        self.ledger = ledger
        self.sessions = sessions
        self.ttl_s = ttl_s

    async def deposit(self, player: str, currency: str, amount: Decimal, tx_id: str) -> None:
        def run() -> None:
            self.ledger.open_wallet(player, currency)
            self.ledger.deposit(player, currency, amount, tx_id=tx_id)

        await asyncio.to_thread(run)

    async def launch(self, provider: str, player: str, currency: str) -> str:
        session = await self.sessions.issue(provider, player, currency, ttl_s=self.ttl_s)
        return session.token

    async def balance(self, player: str, currency: str) -> Decimal:
        return (await asyncio.to_thread(self.ledger.balance, player, currency)).available
