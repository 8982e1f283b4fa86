"""Given-events / when-command / then-events helpers for the ledger's aggregates.

`history` runs commands on a fresh aggregate and keeps only the events they produced;
`given` rebuilds an aggregate from such events alone (as the repository does), so a test
states its past as events; `then` lists the events a command produced, by name and fields.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from typing import TypeVar

from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate

from services.ledger.domain import Wallet

A = TypeVar("A", bound=Aggregate)

_META = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def history(aggregate: A, *commands: Callable[[A], object]) -> list[Any]:
    for command in commands:
        command(aggregate)
    return list(aggregate.collect_events())


def given(cls: type[A], events: list[Any]) -> A:
    rebuilt = project_aggregate(None, events)
    assert isinstance(rebuilt, cls)
    return rebuilt


def then(aggregate: Aggregate) -> list[tuple[str, dict[str, Any]]]:
    return [
        (type(e).__name__, {k: v for k, v in e.__dict__.items() if k not in _META})
        for e in aggregate.collect_events()
    ]


def _hold(wallet: Wallet, bet: str, stake: Decimal) -> None:
    wallet.hold(bet, stake, "round-1")


def wallet_with(deposited: str = "0", *holds: tuple[str, str]) -> list[Any]:
    """The events of player p1's EUR wallet with `deposited` and the given (bet, stake) holds."""
    commands: list[Callable[[Wallet], object]] = []
    if Decimal(deposited):
        commands.append(lambda w: w.deposit("trn_d", Decimal(deposited), "cashier"))
    for bet, stake in holds:
        commands.append(functools.partial(_hold, bet=bet, stake=Decimal(stake)))
    return history(Wallet(player="p1", currency="EUR"), *commands)
