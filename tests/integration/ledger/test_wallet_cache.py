"""The wallet cache on a real nats-server: a bet's reads do not grow with the wallet's age,
and a wallet another writer moved never lets a stale copy win (I2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.wallet import Refusal
from services.eventstore.factory import JetStreamFactory
from services.ledger.application import Ledger
from services.ledger.errors import LedgerRefused
from tests.unit.ledger.support.builders import debit
from tests.unit.ledger.support.builders import funded

D = Decimal
BETS = 20


def received(ledger: Ledger) -> int:
    """Messages the ledger's connection has received: direct-get replies and acks."""
    factory = ledger.factory
    assert isinstance(factory, JetStreamFactory)
    count: int = factory.connection.nc.stats["in_msgs"]
    return count


def messages_per_bet(ledger: Ledger, player: str, prefix: str) -> float:
    before = received(ledger)
    for i in range(BETS):
        ledger.execute(debit(f"{prefix}-{i}", "1.00", player=player, round_id=f"{prefix}-r"))
    return (received(ledger) - before) / BETS


def test_a_bet_on_an_old_wallet_reads_no_more_than_a_bet_on_a_new_one(ledger: Ledger) -> None:
    funded(ledger, "young", "1000")
    funded(ledger, "old", "1000")
    for i in range(90):  # 90 versions more, every one written by this process
        ledger.deposit("old", "EUR", D("1.00"), tx_id=f"age-{i}")
    ledger.balance("old", "EUR")

    young = messages_per_bet(ledger, "young", "y")
    old = messages_per_bet(ledger, "old", "o")

    assert old <= young + 0.5, (old, young)
    assert old <= 4, old  # the round's read and the write's ack: not the wallet's history
    assert ledger.balance("old", "EUR").available == D("1070.00")


def test_a_stale_cached_wallet_never_overdraws_it_after_another_writer_spent(
    ledger: Ledger, env: dict[str, str]
) -> None:
    funded(ledger, "p1", "100")
    ledger.execute(debit("mine-1", "10.00"))  # this ledger now holds the wallet at 90
    with Ledger(env=env) as other:
        other.execute(debit("theirs-1", "80.00"))  # 10 left, unknown to the first ledger

    with pytest.raises(LedgerRefused) as refused:
        ledger.execute(debit("mine-2", "50.00"))

    assert refused.value.code is Refusal.INSUFFICIENT_FUNDS
    balance = ledger.balance("p1", "EUR")
    assert (balance.balance, balance.held, balance.available) == (D(100), D(90), D(10))
    assert ledger.conflicts_retried == 1  # the stale hold lost its write; the retry read


def test_a_stale_cached_wallet_takes_a_bet_another_writer_made_room_for(
    ledger: Ledger, env: dict[str, str]
) -> None:
    funded(ledger, "p1", "20")
    ledger.execute(debit("mine-1", "10.00"))  # cached: 10 available
    with Ledger(env=env) as other:
        other.deposit("p1", "EUR", D("100.00"), tx_id="top-up")

    reply = ledger.execute(debit("mine-2", "50.00"))  # refused by the stale 10, then read

    assert reply.available == D("60.00")
    assert ledger.conflicts_retried == 0
    assert ledger.balance("p1", "EUR").available == D("60.00")


def test_a_stale_cached_wallet_loses_its_write_to_another_writers_and_retries(
    ledger: Ledger, env: dict[str, str]
) -> None:
    funded(ledger, "p1", "100")
    ledger.execute(debit("mine-1", "10.00"))  # cached at 90 available
    with Ledger(env=env) as other:
        other.execute(debit("theirs-1", "30.00"))  # 60 left

    reply = ledger.execute(debit("mine-2", "50.00"))  # fits the stale 90 and the true 60

    assert reply.available == D("10.00")
    assert ledger.conflicts_retried == 1  # the stale write lost, the retry read
    with Ledger(env=env) as fresh:
        stored = fresh.balance("p1", "EUR")
    assert (stored.balance, stored.held, stored.available) == (D(100), D(90), D(10))
