"""Wallet-dialect test kit: a gateway over the fake ledger, and a transport into it (no socket)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol
from typing import TypeVar

import msgspec

from services.edge.adapters.base import EdgeContext
from services.edge.adapters.base import EdgeRequest
from services.edge.config import OptionValue
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.config import networks
from services.edge.gateway import Gateway
from services.edge.gateway import ProviderGate
from services.edge.ports import AsyncLedger
from services.edge.sessions import MemorySessionStore
from services.edge.sessions import Session
from services.simulate.clients.base import Answer
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.base import Transport
from services.simulate.clients.hub88 import load_private_key
from services.simulate.drivers.base import Retry
from services.simulate.drivers.base import WalletDriver
from services.simulate.drivers.by_dialect import driver_for
from tests.unit.edge.support.fake_ledger import FakeLedger

KEYS = Path(__file__).resolve().parents[3] / "keys"
HUB88_PRIVATE_PEM = (KEYS / "hub88_TEST_ONLY_private.pem").read_bytes()
HUB88_PUBLIC_PEM = (KEYS / "hub88_TEST_ONLY_public.pem").read_bytes()
NOW = 1_800_000_000.0
_EXECUTOR = ThreadPoolExecutor(4, thread_name_prefix="wallet-gateway")
SIMULATED_SECRET = "simulated-TEST-ONLY-secret"
EZUGI_OPERATOR = 10178001
SIMULATED_OPTIONS: dict[str, dict[str, OptionValue]] = {"ezugi": {"operator_id": EZUGI_OPERATOR}}
"""The provider options a dialect's simulated provider needs: Ezugi's calls name the operator."""


def simulated_secret(dialect: str) -> bytes:
    """What a provider of `dialect` checks the simulator's calls with: Hub88's public key
    (the simulator signs with its private one), else the shared secret."""
    return HUB88_PUBLIC_PEM if dialect == "hub88" else SIMULATED_SECRET.encode()


def simulated_driver(
    dialect: str, transport: Transport, retry: Retry | None = None
) -> WalletDriver:
    """The simulator's `dialect` driver, signing as a provider set up with `simulated_secret`
    and `SIMULATED_OPTIONS`."""
    return driver_for(
        dialect,
        transport,
        SIMULATED_SECRET,
        hub88_key=load_private_key(HUB88_PRIVATE_PEM),
        ezugi_operator=EZUGI_OPERATOR,
        retry=retry,
    )


def provider(
    dialect: str,
    secret: bytes,
    *,
    pid: str | None = None,
    currencies: tuple[str, ...] = ("EUR",),
    rate_limit: float = 1e6,
    max_body_bytes: int = 65536,
    allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128"),
    options: dict[str, OptionValue] | None = None,
    max_skew_s: float = 0.0,
) -> ProviderConfig:
    """A provider for the fake-ledger rig. `max_skew_s` is off by default: the rig's clock
    is `NOW`, while the clients stamp requests with the real time (and golden fixtures
    with the time they were written)."""
    return ProviderConfig(
        id=pid or dialect,
        dialect=dialect,
        currencies=currencies,
        secret=secret,
        allow_ips=networks(allow),
        rate_limit=rate_limit,
        burst=rate_limit,
        max_body_bytes=max_body_bytes,
        max_skew_s=max_skew_s,
        options=options or {},
    )


@dataclass
class Rig:
    ledger: FakeLedger
    sessions: MemorySessionStore
    gateway: Gateway
    clock: list[float]

    def gate(self, pid: str) -> ProviderGate:
        return self.gateway.gate(pid)

    def session(
        self, pid: str, token: str, player: str, currency: str = "EUR", ttl: float = 3600
    ) -> None:
        self.sessions.put(
            Session(
                token=token,
                provider=pid,
                player=player,
                currency=currency,
                issued_at=self.clock[0],
                expires_at=self.clock[0] + ttl,
            )
        )

    def fund(self, player: str, amount: str, currency: str = "EUR") -> None:
        self.ledger.fund(player, currency, Decimal(amount))


def rig(*providers: ProviderConfig) -> Rig:
    clock = [NOW]
    ledger = FakeLedger()
    sessions = MemorySessionStore(clock=lambda: clock[0])
    context = EdgeContext(
        ledger=AsyncLedger(ledger, _EXECUTOR), sessions=sessions, clock=lambda: clock[0]
    )
    return Rig(ledger, sessions, Gateway(ProvidersConfig(tuple(providers)), context), clock)


class GatewayTransport:
    """Sends a prepared call straight into a provider gate, as the HTTP layer would."""

    def __init__(self, gate: ProviderGate, remote: str = "127.0.0.1") -> None:
        self.gate = gate
        self.remote = remote

    async def send(self, call: PreparedCall) -> Answer:
        request = EdgeRequest(
            method=call.method,
            path=call.path,
            body=call.body,
            query=dict(call.query),
            headers=dict(call.headers),
            remote=self.remote,
        )
        response = await self.gate.serve(request)
        if response is None:
            return Answer(404, b"")
        return Answer(response.status, response.body)


def player_rig(
    dialect: str,
    secret: bytes,
    session: str = "",
    *,
    ttl: float = 3600,
    options: dict[str, OptionValue] | None = None,
    max_body_bytes: int = 65536,
    max_skew_s: float = 0.0,
) -> tuple[Rig, GatewayTransport]:
    """A rig with one provider of `dialect` and player `u-1` holding 100.00 EUR (with the
    session `session` for `ttl` seconds, when one is named), and the way in."""
    config = provider(
        dialect, secret, options=options, max_body_bytes=max_body_bytes, max_skew_s=max_skew_s
    )
    r = rig(config)
    r.fund("u-1", "100.00")
    if session:
        r.session(dialect, session, "u-1", ttl=ttl)
    return r, GatewayTransport(r.gate(dialect))


def refused_body(
    r: Rig,
    transport: GatewayTransport,
    call: PreparedCall,
    statuses: Collection[int] = (200, 413),
) -> bytes:
    """Send `call`, which the edge must refuse in its dialect (by default HTTP 200, or 413
    for a body too large) without touching the ledger; the answer's body, for the
    dialect's code."""
    before = r.ledger.snapshot()
    answer = asyncio.run(transport.send(call))
    assert answer.status in statuses, (answer.status, answer.body)
    assert r.ledger.snapshot() == before, "a refused call changed the ledger"
    return answer.body


class StatusAnswer(Protocol):
    @property
    def status(self) -> str: ...


AnswerT = TypeVar("AnswerT", bound=StatusAnswer)


def refused_status(
    r: Rig, transport: GatewayTransport, call: PreparedCall, answer: type[AnswerT], ok: str
) -> str:
    """`refused_body` for a dialect that answers with a `status`: the status, never `ok`."""
    body = refused_body(r, transport, call)
    status = msgspec.json.decode(body, type=answer).status
    assert status != ok, body
    return status
