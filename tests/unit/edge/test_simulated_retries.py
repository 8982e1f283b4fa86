"""The simulated providers retry as the real ones do, through the gateway's deadline path.

The ledger here is the fake one behind a gate: chosen commands take longer than the
provider's `answer_within_s`, so the gateway answers the dialect's retryable error in time
while the command still lands afterwards. Pragmatic then resends the identical request
(error 100), Evolution too (`UNKNOWN_ERROR`), and Hub88 rolls the bet back
(`RS_ERROR_UNKNOWN`, or no answer at all); whatever the interleaving, money moves once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
from collections.abc import Sequence
from decimal import Decimal

import pytest

from contracts.events import AnyProviderEvent
from contracts.wallet import AnyWalletCommand
from contracts.wallet import Balance
from contracts.wallet import Credit
from contracts.wallet import Debit
from contracts.wallet import WalletReply
from services.edge.adapters.base import EdgeContext
from services.edge.config import ProvidersConfig
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.gateway import Gateway
from services.edge.ports import AsyncLedger
from services.edge.sessions import MemorySessionStore
from services.simulate.bank import LedgerBank
from services.simulate.clients.base import Answer
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import TransportError
from services.simulate.drivers import Placed
from services.simulate.drivers import Retry
from services.simulate.drivers import Seat
from services.simulate.drivers import Wager
from services.simulate.drivers import WalletDriver
from services.simulate.simulation import simulate
from services.simulate.table import Chaos
from tests.unit.edge.support.fake_ledger import FakeLedger
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import simulated_driver
from tests.unit.edge.support.wallet_gateway import simulated_secret

DEADLINE_S = 0.05
LATE_S = 0.15
RETRY = Retry(attempts=4, backoff_s=0.03)
SEAT = Seat(player="u-1", currency="EUR", token="tok-1")
STAKE = Decimal("5.00")


class SlowLedger:
    """The fake ledger, but some commands take `LATE_S`: `slow(command)` says which. They
    still land, after the gateway has answered; a lock keeps the fake consistent."""

    def __init__(self, slow: object) -> None:
        self.inner = FakeLedger()
        self.slow = slow
        self.lock = threading.Lock()

    def execute(self, command: AnyWalletCommand) -> WalletReply:
        if callable(self.slow) and self.slow(command):
            time.sleep(LATE_S)
        with self.lock:
            return self.inner.execute(command)

    def balance(self, player: str, currency: str) -> Balance:
        with self.lock:
            return self.inner.balance(player, currency)

    def open_wallet(self, player: str, currency: str) -> None:
        with self.lock:
            self.inner.open_wallet(player, currency)

    def deposit(self, player: str, currency: str, amount: Decimal, *, tx_id: str) -> Balance:
        with self.lock:
            return self.inner.deposit(player, currency, amount, tx_id=tx_id)


def first(kind: type, count: int = 1) -> object:
    left = itertools.count()
    return lambda command: isinstance(command, kind) and next(left) < count


def every(kinds: tuple[type, ...], nth: int) -> object:
    seen = itertools.count(1)
    return lambda command: isinstance(command, kinds) and next(seen) % nth == 0


class Recording:
    """A transport that remembers every body it sent, or fails to send bets at all."""

    def __init__(self, inner: GatewayTransport, *, unreachable: str = "") -> None:
        self.inner = inner
        self.unreachable = unreachable
        self.sent: list[PreparedCall] = []

    async def send(self, call: PreparedCall) -> Answer:
        self.sent.append(call)
        if self.unreachable and call.path == self.unreachable:
            raise TransportError(f"{call.path}: connection refused")
        return await self.inner.send(call)


def gateway(dialect: str, slow: object) -> tuple[SlowLedger, Gateway]:
    ledger = SlowLedger(slow)
    ledger.inner.fund("u-1", "EUR", Decimal(100))
    sessions = MemorySessionStore()
    config = dataclasses.replace(
        provider(dialect, simulated_secret(dialect)), answer_within_s=DEADLINE_S
    )
    context = EdgeContext(ledger=AsyncLedger(ledger, workers=8), sessions=sessions)
    return ledger, Gateway(ProvidersConfig((config,)), context)


async def issue(gw: Gateway, dialect: str, player: str = "u-1") -> Seat:
    session = await gw.context.sessions.issue(dialect, player, "EUR", ttl_s=3600)
    return Seat(player=player, currency="EUR", token=session.token)


async def seated(
    dialect: str, slow: object, *, unreachable: str = ""
) -> tuple[SlowLedger, Recording, WalletDriver, Seat]:
    """A gateway whose ledger is slow on `slow` commands, the recorded way into it, the
    simulator's driver on that way, and player `u-1` seated with 100.00 EUR."""
    ledger, gw = gateway(dialect, slow)
    transport = Recording(GatewayTransport(gw.gate(dialect)), unreachable=unreachable)
    return ledger, transport, simulated_driver(dialect, transport, RETRY), await issue(gw, dialect)


async def settled(ledger: SlowLedger) -> Decimal:
    """The balance once every late command has landed."""
    await asyncio.sleep(LATE_S * 2)
    return ledger.balance("u-1", "EUR").available


def bodies(transport: Recording, path: str) -> list[bytes]:
    return [c.body for c in transport.sent if c.path == path]


async def test_pragmatic_resends_the_identical_bet_after_error_100_and_it_counts_once() -> None:
    ledger, transport, driver, seat = await seated("pragmatic", first(Debit))
    placed = await driver.bet(seat, "r-1", Wager("b-1", STAKE), duplicate=False)
    assert placed is Placed.TAKEN
    sent = bodies(transport, "bet.html")
    assert len(sent) >= 2 and len(set(sent)) == 1, "the retry is the identical request"
    assert await settled(ledger) == Decimal(95)


async def test_pragmatic_refunds_a_bet_that_keeps_failing_and_nothing_stands() -> None:
    ledger, transport, driver, seat = await seated("pragmatic", first(Debit, 99))
    placed = await driver.bet(seat, "r-1", Wager("b-1", STAKE), duplicate=False)
    assert placed is Placed.ABANDONED
    assert len(bodies(transport, "bet.html")) == RETRY.attempts
    assert len(bodies(transport, "refund.html")) == 1
    assert await settled(ledger) == Decimal(100)


async def test_evolution_resends_the_identical_debit_and_credit_after_unknown_error() -> None:
    ledger, transport, driver, seat = await seated("evolution", first(Debit))
    placed = await driver.bet(seat, "g-1", Wager("b-1", STAKE), duplicate=True)
    assert placed is Placed.TAKEN
    sent = bodies(transport, "debit")
    assert len(sent) >= 3 and len(set(sent)) == 1
    ledger.slow = first(Credit)
    await driver.settle(seat, "g-1", [Wager("b-1", STAKE, payout=Decimal(10))], duplicate=False)
    assert len(set(bodies(transport, "credit"))) == 1 < len(bodies(transport, "credit"))
    assert await settled(ledger) == Decimal(105)


async def test_evolution_cancels_a_debit_that_keeps_failing_and_nothing_stands() -> None:
    ledger, transport, driver, seat = await seated("evolution", first(Debit, 99))
    placed = await driver.bet(seat, "g-1", Wager("b-1", STAKE), duplicate=False)
    assert placed is Placed.ABANDONED
    assert len(bodies(transport, "cancel")) == 1
    assert await settled(ledger) == Decimal(100)


@pytest.mark.parametrize("failure", ["deadline", "no answer"])
async def test_hub88_rolls_back_a_bet_it_got_no_clear_answer_for(failure: str) -> None:
    unreachable = "transaction/bet" if failure == "no answer" else ""
    ledger, transport, driver, seat = await seated("hub88", first(Debit), unreachable=unreachable)
    placed = await driver.bet(seat, "r-1", Wager("b-1", STAKE), duplicate=True)
    assert placed is Placed.ABANDONED
    assert len(bodies(transport, "transaction/rollback")) >= 1
    assert await settled(ledger) == Decimal(100)
    late = await driver.bet(seat, "r-1", Wager("b-1", STAKE), duplicate=False)
    assert late is Placed.REFUSED or unreachable, "Hub88 has written that bet off"


async def test_hub88_resends_a_win_answered_unknown_error() -> None:
    ledger, transport, driver, seat = await seated("hub88", first(Credit))
    assert await driver.bet(seat, "r-1", Wager("b-1", STAKE), duplicate=False) is Placed.TAKEN
    await driver.settle(seat, "r-1", [Wager("b-1", STAKE, payout=Decimal(10))], duplicate=False)
    wins = bodies(transport, "transaction/win")
    assert len(wins) >= 2 and len(set(wins)) == 1
    assert await settled(ledger) == Decimal(105)


@pytest.mark.parametrize("dialect", ["hub88", "evolution", "pragmatic"])
async def test_a_table_whose_ledger_misses_deadlines_still_balances(dialect: str) -> None:
    ledger, gw = gateway(dialect, every((Debit, Credit), 7))
    processor = FeedProcessor(dialect, RecordingSink(), MemoryCursorStore())

    async def push(events: Sequence[AnyProviderEvent]) -> None:
        await processor.accept(events)

    report = await simulate(
        driver=simulated_driver(dialect, GatewayTransport(gw.gate(dialect)), RETRY),
        push=push,
        bank=LedgerBank(ledger, gw.context.sessions),
        provider=dialect,
        players=3,
        rounds=5,
        seed=3,
        chaos=Chaos(rollback_before=0.1, rollback_after=0.1, duplicate_call=0.1),
    )
    await asyncio.sleep(LATE_S * 2)
    assert report.ok, report.mismatches
    if dialect == "hub88":
        assert report.books.abandoned, "Hub88 rolled back the bets it got no answer for"
    else:
        assert report.books.abandoned == 0, "a resent bet is taken once it lands"
