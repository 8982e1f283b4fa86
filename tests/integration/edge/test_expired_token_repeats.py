"""On the real ledger over JetStream: a debit repeated after its token died (expired,
revoked, ended with its platform session) gets its original answer in every dialect and
moves nothing, its transaction id with another payload gets the dialect's duplicate
answer, and a new debit on that token is refused, moving nothing; another player's token
is refused without asking the ledger (the unit test
`tests/unit/edge/test_expired_token_repeats.py` runs the same scenarios on the fake
ledger)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from services.edge.adapters.base import EdgeContext
from services.edge.config import ProvidersConfig
from services.edge.gateway import Gateway
from services.edge.ports import AsyncLedger
from services.edge.sessions import MemorySessionStore
from services.ledger.application import Ledger
from tests.integration.support.ledgers import jetstream_ledger
from tests.unit.edge.support import token_repeats as scenarios
from tests.unit.edge.support.wallet_gateway import NOW
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider


@asynccontextmanager
async def served(
    dialect: scenarios.Dialect,
    nats_url: str,
    stream_prefix: str,
    currencies: tuple[str, ...] = ("EUR",),
) -> AsyncIterator[tuple[GatewayTransport, scenarios.World]]:
    """The dialect's gateway over a real ledger where u-1 and u-2 hold 100.00 in each of
    the provider's `currencies`."""
    clock = [NOW]
    ledger = jetstream_ledger(nats_url, stream_prefix)
    asked: list[tuple[str, str]] = []
    answered = ledger.answered

    def counted(provider: str, tx_id: str) -> bool:
        asked.append((provider, tx_id))
        return answered(provider, tx_id)

    ledger.answered = counted  # type: ignore[method-assign]
    sessions = MemorySessionStore(clock=lambda: clock[0])
    async_ledger = AsyncLedger(ledger, workers=4)
    context = EdgeContext(ledger=async_ledger, sessions=sessions, clock=lambda: clock[0])
    config = provider(dialect.name, dialect.secret, options=dialect.options, currencies=currencies)
    gateway = Gateway(ProvidersConfig((config,)), context)

    def fund(ledger: Ledger) -> None:
        for player in ("u-1", "u-2"):
            for currency in currencies:
                ledger.open_wallet(player, currency)
                ledger.deposit(player, currency, Decimal(100), tx_id=f"open-{player}-{currency}")

    async def snapshot() -> object:
        wallets = [(p, c) for p in ("u-1", "u-2") for c in currencies]
        return await asyncio.gather(*(asyncio.to_thread(ledger.balance, p, c) for p, c in wallets))

    try:
        await asyncio.to_thread(fund, ledger)
        transport = GatewayTransport(gateway.gate(dialect.name))
        yield transport, scenarios.World(sessions, clock, snapshot, lambda: len(asked))
    finally:
        async_ledger.close()
        await asyncio.to_thread(ledger.close)


@scenarios.EVERY_FATE
@scenarios.EVERY_DIALECT
async def test_a_debit_repeated_after_its_token_died_gets_its_answer_from_the_ledger(
    dialect: scenarios.Dialect, fate: scenarios.Fate, nats_url: str, stream_prefix: str
) -> None:
    async with served(dialect, nats_url, stream_prefix) as (transport, world):
        await scenarios.repeat_after(dialect, fate, transport, world)


@scenarios.EVERY_DIALECT
async def test_another_players_expired_token_refuses_a_repeat_without_asking_the_ledger(
    dialect: scenarios.Dialect, nats_url: str, stream_prefix: str
) -> None:
    async with served(dialect, nats_url, stream_prefix) as (transport, world):
        await scenarios.another_players_token(dialect, transport, world)


async def test_a_pragmatic_bet_repeated_on_a_revoked_token_is_answered_in_its_own_currency(
    nats_url: str, stream_prefix: str
) -> None:
    async with served(scenarios.PRAGMATIC, nats_url, stream_prefix, ("USD", "EUR")) as (
        transport,
        world,
    ):
        await scenarios.pragmatic_repeat_in_the_earlier_currency(transport, world)
