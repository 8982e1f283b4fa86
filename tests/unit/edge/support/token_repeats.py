"""A debit taken while its token was live, repeated after the token died (expired,
revoked, ended with its platform session), in each dialect: the table of what each
answers, and the scenarios, for the fake ledger's unit test and the real ledger's
integration test."""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from services.edge.config import OptionValue
from services.edge.sessions import MemorySessionStore
from services.edge.sessions import Session
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from services.simulate.clients.evolution import EvolutionClient
from services.simulate.clients.ezugi import EzugiClient
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from services.simulate.clients.pragmatic import PragmaticClient
from services.simulate.clients.softswiss import SoftSwissClient
from services.simulate.clients.softswiss import bet
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM

TTL = 60.0
SECRET = "expiry-TEST-ONLY-secret"
TOKEN = "tok-1"
PLATFORM_SESSION = "ps-1"
AMOUNT = Decimal(1)
OTHER_AMOUNT = Decimal(2)

Read = Callable[[dict[str, Any]], tuple[object, ...]]
"""What an answer says: its status, and the balance it gives."""


@dataclass(frozen=True)
class Dialect:
    """How a dialect's provider is set up, sends a debit (by default of 1.00 EUR by `u-1`,
    who holds 100.00 EUR, on `TOKEN`), and what it is answered: `taken` live; after the
    token died, `repeated` for the same debit, `conflict` for its transaction id with
    another amount, `expired` for a new debit on the expired token and `invalid` for a
    new one on a revoked token or another player's."""

    name: str
    secret: bytes
    options: dict[str, OptionValue]
    client: Callable[[Transport], Any]
    debit: Callable[..., PreparedCall]
    """(client, tx, *, user="u-1", amount=AMOUNT) -> the call."""
    read: Read
    taken: object
    repeated: object
    conflict: object
    expired: object
    invalid: object


def hub88_debit(
    client: Hub88Client, tx: str, *, user: str = "u-1", amount: Decimal = AMOUNT
) -> PreparedCall:
    return client.bet_call(
        user=user, token=TOKEN, round_id="r-1", tx=tx, amount=amount, currency="EUR"
    )


def evolution_debit(
    client: EvolutionClient, tx: str, *, user: str = "u-1", amount: Decimal = AMOUNT
) -> PreparedCall:
    return client.transaction_call(
        "debit",
        sid=TOKEN,
        user=user,
        currency="EUR",
        game_id="g-1",
        tx_id=tx,
        ref_id=f"bet-{tx}",
        amount=amount,
    )


def pragmatic_debit(
    client: PragmaticClient, tx: str, *, user: str = "u-1", amount: Decimal = AMOUNT
) -> PreparedCall:
    return client.bet_call(user=user, round_id="r-1", reference=tx, amount=amount, token=TOKEN)


def softswiss_debit(
    client: SoftSwissClient, tx: str, *, user: str = "u-1", amount: Decimal = AMOUNT
) -> PreparedCall:
    return client.play_call(
        user=user,
        currency="EUR",
        round_id="r-1",
        actions=[bet(tx, amount, "EUR")],
        session_id=TOKEN,
    )


def ezugi_debit(
    client: EzugiClient, tx: str, *, user: str = "u-1", amount: Decimal = AMOUNT
) -> PreparedCall:
    return client.debit_call(
        user=user, token=TOKEN, tx=tx, round_id=1, amount=amount, currency="EUR"
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
        conflict=("RS_ERROR_DUPLICATE_TRANSACTION", None),
        expired=("RS_ERROR_TOKEN_EXPIRED", None),
        invalid=("RS_ERROR_INVALID_TOKEN", None),
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
        conflict=("BET_ALREADY_EXIST", Decimal("99.00")),
        expired=("INVALID_SID", None),
        invalid=("INVALID_SID", None),
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
        conflict=(7, None),
        expired=(4, None),
        invalid=(4, None),
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
        conflict=(400, 400, 9900),
        expired=(412, 101, None),
        invalid=(412, 101, None),
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
        conflict=(1, "Transaction already processed with other data", Decimal("99.00")),
        expired=(6, "Token expired", None),
        invalid=(6, "Token not found or not this player's", None),
    ),
]


class Fate(enum.Enum):
    """What becomes of a token between a debit and the provider's retry of it."""

    EXPIRED = "expired"
    """Unused past its idle time."""
    REVOKED = "revoked"
    """Taken back: rotated (Evolution's `/check`), or revoked by the platform."""
    PLATFORM_SESSION_ENDED = "platform session ended"
    """Its game launch ended (player protection ends a player's sessions): every token
    issued under it is revoked."""


@dataclass(frozen=True)
class World:
    """What a scenario acts on beside the provider's calls: the session store and its
    clock, what the ledger holds now, and how often the edge asked it `answered`."""

    sessions: MemorySessionStore
    clock: list[float]
    snapshot: Callable[[], Awaitable[object]]
    asked: Callable[[], int]


async def open_session(world: World, dialect: Dialect) -> None:
    """`TOKEN`: u-1's session in EUR for `TTL` seconds, issued under `PLATFORM_SESSION`."""
    session = Session(
        token=TOKEN,
        provider=dialect.name,
        player="u-1",
        currency="EUR",
        issued_at=world.clock[0],
        expires_at=world.clock[0] + TTL,
        platform_session=PLATFORM_SESSION,
    )
    world.sessions.put(session)
    assert await world.sessions.join(session)


async def befall(fate: Fate, world: World, dialect: Dialect) -> None:
    match fate:
        case Fate.EXPIRED:
            world.clock[0] += TTL + 1
        case Fate.REVOKED:
            await world.sessions.revoke(dialect.name, TOKEN)
        case Fate.PLATFORM_SESSION_ENDED:
            assert await world.sessions.end_platform_session(PLATFORM_SESSION) == 1


async def repeat_after(dialect: Dialect, fate: Fate, transport: Transport, world: World) -> None:
    """The provider's bet while the token is live; after the token's `fate`, its retry (the
    original answer, nothing moves), the retry with another amount (the dialect's answer
    to a duplicate, nothing moves) and a new bet on that token (the dialect's token
    error, nothing moves)."""
    client = dialect.client(transport)

    async def send(call: PreparedCall) -> tuple[object, ...]:
        return dialect.read(await client.send(call))

    await open_session(world, dialect)
    # The provider sends a bet while the token is live; the answer is lost on the way.
    debit = dialect.debit(client, "tx-1")
    assert await send(debit) == dialect.taken
    # The token dies before the provider's retry of that very bet.
    await befall(fate, world, dialect)
    before = await world.snapshot()
    assert await send(debit) == dialect.repeated, "a repeat, answered as one"
    conflicting = dialect.debit(client, "tx-1", amount=OTHER_AMOUNT)
    assert await send(conflicting) == dialect.conflict, "another payload: a duplicate"
    assert await world.snapshot() == before
    # A bet never seen before, on the same dead token, is refused and moves nothing.
    refused = dialect.expired if fate is Fate.EXPIRED else dialect.invalid
    assert await send(dialect.debit(client, "tx-2")) == refused
    assert await world.snapshot() == before


async def another_players_token(dialect: Dialect, transport: Transport, world: World) -> None:
    """u-1's bet, then u-2 naming its transaction id on u-1's token once it has expired:
    the token error of a token that is not u-2's, the ledger not asked whether the
    transaction was answered (it is u-1's business), nothing moved."""
    client = dialect.client(transport)
    await open_session(world, dialect)
    assert dialect.read(await client.send(dialect.debit(client, "tx-1"))) == dialect.taken
    await befall(Fate.EXPIRED, world, dialect)
    before, asked = await world.snapshot(), world.asked()
    for tx in ("tx-1", "tx-2"):
        answer = dialect.read(await client.send(dialect.debit(client, tx, user="u-2")))
        assert answer == dialect.invalid, tx
    assert world.asked() == asked, "the ledger was asked about another player's bet"
    assert await world.snapshot() == before


PRAGMATIC = next(d for d in DIALECTS if d.name == "pragmatic")


async def pragmatic_repeat_in_the_earlier_currency(transport: Transport, world: World) -> None:
    """Pragmatic's bets name no currency: a bet's is its token's session's. A player (100.00
    in EUR and in USD) bets in EUR; that token is revoked and the player's last session is
    in USD when the provider retries the bet: the retry is the EUR bet's repeat (the
    original answer, EUR cash), another amount is error 7, and nothing moves."""
    dialect, client = PRAGMATIC, PRAGMATIC.client(transport)

    async def send(call: PreparedCall) -> tuple[object, ...]:
        return dialect.read(await client.send(call))

    await open_session(world, dialect)
    debit = dialect.debit(client, "tx-1")
    assert await send(debit) == dialect.taken
    await befall(Fate.REVOKED, world, dialect)
    world.sessions.put(
        Session(
            token="tok-usd",
            provider=dialect.name,
            player="u-1",
            currency="USD",
            issued_at=world.clock[0],
            expires_at=world.clock[0] + TTL,
        )
    )
    before = await world.snapshot()
    assert await send(debit) == dialect.repeated
    assert await send(dialect.debit(client, "tx-1", amount=OTHER_AMOUNT)) == dialect.conflict
    assert await send(dialect.debit(client, "tx-2")) == dialect.invalid
    assert await world.snapshot() == before


EVERY_DIALECT = pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
"""A scenario test, once per dialect."""
EVERY_FATE = pytest.mark.parametrize("fate", list(Fate), ids=lambda f: f.name.lower())
"""A scenario test, once per way a token dies."""
