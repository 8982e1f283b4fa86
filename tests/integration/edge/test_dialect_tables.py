"""Every dialect end to end: the simulator's driver plays the provider over HTTP against
the real ledger on JetStream. At a live table (its retries, resent calls and rollbacks
included, the push feed recording the rounds) the ledger ends with the balances the
simulator's books expect; a rollback that comes before its bet moves nothing, and the late
bet is refused (SoftSwiss takes it, without effect)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from services.edge.config import ProviderConfig
from services.simulate.clients.base import HttpTransport
from services.simulate.drivers import Placed
from services.simulate.drivers import Seat
from services.simulate.drivers import Wager
from services.simulate.drivers.by_dialect import DIALECTS
from tests.integration.edge.support.served_edge import OPENING
from tests.integration.edge.support.served_edge import TableSize
from tests.integration.edge.support.served_edge import one_player
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.served_edge import table_size
from tests.integration.edge.support.simulated_bridge import assert_the_books_balance
from tests.integration.edge.support.simulated_bridge import served_bridge
from tests.unit.edge.support.wallet_gateway import SIMULATED_OPTIONS
from tests.unit.edge.support.wallet_gateway import simulated_driver
from tests.unit.edge.support.wallet_gateway import simulated_secret


@dataclass(frozen=True, slots=True)
class DialectTable:
    size: TableSize
    seed: int


TABLES = {
    "softswiss": DialectTable(table_size(), seed=4),
    "ezugi": DialectTable(table_size(bettors=6), seed=5),
    "hub88": DialectTable(table_size(bettors=6), seed=88),
    "evolution": DialectTable(table_size(), seed=1),
    "pragmatic": DialectTable(table_size(), seed=3),
}
"""Six bettors a round for Ezugi (a debit and a credit per bet, the most calls of all) and
Hub88 (every call RSA-signed both ways: signing alone took 14 s of a 172 s profiled run on a
loaded machine); eight for the others."""


def simulated_provider(dialect: str) -> ProviderConfig:
    return provider(dialect, simulated_secret(dialect), **SIMULATED_OPTIONS.get(dialect, {}))


@pytest.mark.soak
@pytest.mark.timeout(900)
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_table_of_50_players_over_many_rounds_leaves_the_balances_the_books_expect(
    dialect: str, nats_url: str, stream_prefix: str
) -> None:
    table = TABLES[dialect]
    async with served_bridge(nats_url, stream_prefix, simulated_provider(dialect)) as bridge:
        driver = simulated_driver(dialect, HttpTransport(bridge.http, bridge.base(dialect)))
        await assert_the_books_balance(bridge, driver, dialect, table.size, seed=table.seed)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_rollback_before_its_bet_moves_nothing_and_the_late_bet_is_refused(
    dialect: str, nats_url: str, stream_prefix: str
) -> None:
    config = simulated_provider(dialect)
    async with one_player(nats_url, stream_prefix, config, "late") as (edge, token):
        driver = simulated_driver(dialect, HttpTransport(edge.http, edge.base(dialect)))
        seat, wager = Seat("late", "EUR", token), Wager("b-1", Decimal(2))
        await driver.rollback(seat, "r-1", wager, early=True)
        late = await driver.bet(seat, "r-1", wager, duplicate=False)
        assert late is (Placed.TAKEN if dialect == "softswiss" else Placed.REFUSED)
        assert await edge.balance("late") == OPENING
