"""A debit taken while its token was live, repeated after the token expired, in each
dialect: the table of what each answers, and the scenario, for the fake ledger's unit
test and the real ledger's integration test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.edge.config import OptionValue
from services.simulate.clients.base import PreparedCall, Transport
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client, load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient, bet
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM, HUB88_PUBLIC_PEM

TTL = 60.0
SECRET = "expiry-TEST-ONLY-secret"
TOKEN = "tok-1"
AMOUNT = Decimal(1)

Read = Callable[[dict[str, Any]], tuple[object, ...]]
"""What an answer says: its status, and the balance it gives."""


@dataclass(frozen=True)
class Dialect:
    """How a dialect's provider is set up, sends a debit of 1.00 EUR by `u-1` (100.00 EUR)
    on `TOKEN`, and what it is answered: `taken` live, `repeated` after the token expired,
    `expired` for a new debit on the expired token."""

    name: str
    secret: bytes
    options: dict[str, OptionValue]
    client: Callable[[Transport], Any]
    debit: Callable[[Any, str], PreparedCall]
    read: Read
    taken: object
    repeated: object
    expired: object


def hub88_debit(client: Hub88Client, tx: str) -> PreparedCall:
    return client.bet_call(
        user="u-1", token=TOKEN, round_id="r-1", tx=tx, amount=AMOUNT, currency="EUR"
    )


def evolution_debit(client: EvolutionClient, tx: str) -> PreparedCall:
    return client.transaction_call(
        "debit",
        sid=TOKEN,
        user="u-1",
        currency="EUR",
        game_id="g-1",
        tx_id=tx,
        ref_id=f"bet-{tx}",
        amount=AMOUNT,
    )


def pragmatic_debit(client: PragmaticClient, tx: str) -> PreparedCall:
    return client.bet_call(user="u-1", round_id="r-1", reference=tx, amount=AMOUNT, token=TOKEN)


def softswiss_debit(client: SoftSwissClient, tx: str) -> PreparedCall:
    return client.play_call(
        user="u-1",
        currency="EUR",
        round_id="r-1",
        actions=[bet(tx, AMOUNT, "EUR")],
        session_id=TOKEN,
    )


def ezugi_debit(client: EzugiClient, tx: str) -> PreparedCall:
    return client.debit_call(
        user="u-1", token=TOKEN, tx=tx, round_id=1, amount=AMOUNT, currency="EUR"
    )


DIALECTS = [
    Dialect(
        "hub88",
        HUB88_PUBLIC_PEM,
        {},
        lambda t: Hub88Client(t, load_private_key(HUB88_PRIVATE_PEM)),
        hub88_debit,
        lambda a: (a["status"], a.get("balance")),
        taken=("RS_OK", 9_900_000),
        # the original answer: its status and balance as first sent
        repeated=("RS_OK", 9_900_000),
        expired=("RS_ERROR_TOKEN_EXPIRED", None),
    ),
    Dialect(
        "evolution",
        SECRET.encode(),
        {},
        lambda t: EvolutionClient(t, SECRET),
        evolution_debit,
        lambda a: (a["status"], a.get("balance")),
        taken=("OK", Decimal("99.00")),
        repeated=("BET_ALREADY_EXIST", Decimal("99.00")),
        expired=("INVALID_SID", None),
    ),
    Dialect(
        "pragmatic",
        SECRET.encode(),
        {},
        lambda t: PragmaticClient(t, SECRET),
        pragmatic_debit,
        lambda a: (a["error"], a.get("cash")),
        taken=(0, Decimal("99.00")),
        repeated=(0, Decimal("99.00")),
        expired=(4, None),
    ),
    Dialect(
        "softswiss",
        SECRET.encode(),
        {},
        lambda t: SoftSwissClient(t, SECRET),
        softswiss_debit,
        lambda a: (a["http_status"], a.get("code"), a.get("balance")),
        taken=(200, None, 9900),
        repeated=(200, None, 9900),
        expired=(412, 101, None),
    ),
    Dialect(
        "ezugi",
        SECRET.encode(),
        {"operator_id": 7},
        lambda t: EzugiClient(t, SECRET, 7),
        ezugi_debit,
        lambda a: (a["errorCode"], a["errorDescription"], a.get("balance")),
        taken=(0, "OK", Decimal("99.00")),
        repeated=(0, "Transaction already processed", Decimal("99.00")),
        expired=(6, "Token expired", None),
    ),
]


async def repeat_after_expiry(
    dialect: Dialect,
    transport: Transport,
    expire: Callable[[], None],
    snapshot: Callable[[], Awaitable[object]],
) -> None:
    """The provider's bet while the token is live, its retry after the token expired (the
    original answer, nothing moves) and a new bet on that token (refused, nothing moves)."""
    client = dialect.client(transport)

    async def send(call: PreparedCall) -> tuple[object, ...]:
        return dialect.read(await client.send(call))

    # The provider sends a bet while the token is live; the answer is lost on the way.
    debit = dialect.debit(client, "tx-1")
    assert await send(debit) == dialect.taken
    # The token's idle time passes before the provider's retry of that very bet.
    expire()
    before = await snapshot()
    assert await send(debit) == dialect.repeated, "a repeat, answered as one"
    assert await snapshot() == before
    # A bet never seen before, on the same expired token, is refused and moves nothing.
    assert await send(dialect.debit(client, "tx-2")) == dialect.expired
    assert await snapshot() == before
