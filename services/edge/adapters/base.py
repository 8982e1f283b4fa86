"""The dialect adapter seam: how one provider's wire format plugs into the edge.

How to add a dialect `foo`
--------------------------
1. Wire structs in `contracts/dialects/foo.py`: frozen, kw_only msgspec Structs, unknown
   fields ignored (msgspec's default), amounts as the provider sends them.
2. `services/edge/adapters/foo.py` defines `class Adapter(DialectAdapter)` with
   `dialect = "foo"`, and `services/edge/adapters/registry.py` lists it in `ADAPTERS`:
   then a provider with `dialect = "foo"` in `livebridge.toml` is enough.
3. `endpoints()` returns one `Endpoint(method, path, handler)` per provider path, `path`
   relative to the mount point: `Endpoint("POST", "play", self.play)` is served at
   `/wallet/foo/<provider-id>/play`, and at `/wallet/foo/play` for the dialect's default
   provider (see `services.edge.config`).
4. A handler gets an `EdgeRequest` (raw body bytes, headers, query, remote address) and
   returns an `EdgeResponse` (status, body bytes). Order inside a handler: verify the
   signature over the raw bytes (`security.same_secret` for comparisons), then decode with
   a typed msgspec decoder, then convert amounts with `contracts.money`, then call
   `self.ledger.execute(...)` (awaitable; raises `ports.Refused` with a `Refusal` code),
   then render the `WalletReply` (note `replayed` / `absorbed`) in the dialect.
5. `reject(rejection, endpoint)` renders the edge's own refusals (IP not allowed, rate
   limited, body too large, malformed, internal) in the dialect. The gateway calls it
   before the handler runs and whenever a handler raises: a handler may simply raise
   `Rejected(Rejection.MALFORMED)`; an unexpected exception becomes `Rejection.INTERNAL`,
   logged with its traceback, never shown to the caller.
6. Tests: `tests/unit/edge/test_foo_*.py` with the in-memory fakes in
   `tests/unit/edge/support/fake_ledger.py` (`FakeLedger`, `MemorySessionStore`) and
   `services.edge.gateway.Gateway` (no sockets); `tests/integration/edge/test_foo_*.py`
   through real HTTP, NATS and the ledger.

Adapters hold no mutable state of their own: idempotency lives in the ledger (a repeated
`tx_id` gets `replayed=True` and the original reply), sessions in `EdgeContext.sessions`.
A debit checks its token with `debit_session`: a token that is no longer live (expired,
revoked, rotated, unknown to the store) refuses a debit only when it is new; one whose
transaction id the ledger has answered (`AsyncLedger.answered`) is a repeat, sent to the
ledger for its original answer (or the dialect's duplicate answer to another payload)
whatever the token's state. Another player's token, while the store knows it, refuses
any debit without asking the ledger; one the store has forgotten is a dead token, and the
ledger answers a repeat under it only if the payload (the player among it) is the original's.
"""

from __future__ import annotations

import abc
import enum
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import ClassVar

from services.edge.config import ProviderConfig
from services.edge.ports import AsyncLedger
from services.edge.ports import Refused
from services.edge.security import fresh_timestamp
from services.edge.sessions import Session
from services.edge.sessions import SessionStore
from services.edge.sessions import recorded_session
from services.edge.sessions import session_ref


@dataclass(frozen=True, slots=True)
class EdgeRequest:
    """One provider call, transport-free. `path` is relative to the dialect mount point."""

    method: str
    path: str
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    """Case-insensitive when built by the HTTP layer; tests should use the canonical case."""
    remote: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None:
            lowered = name.lower()
            for key, candidate in self.headers.items():
                if key.lower() == lowered:
                    return candidate
        return value


@dataclass(frozen=True, slots=True)
class EdgeResponse:
    status: int
    body: bytes
    content_type: str = "application/json"


Handler = Callable[[EdgeRequest], Awaitable[EdgeResponse]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.path


class Rejection(enum.StrEnum):
    """Why the edge itself refused a call, before or instead of the ledger."""

    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    RATE_LIMITED = "RATE_LIMITED"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    MALFORMED = "MALFORMED"
    INTERNAL = "INTERNAL"
    SOFT_DECLINE = "SOFT_DECLINE"
    """The ops playbook holds the provider degraded and its wallet path did not answer in
    time: the dialect's retryable decline, never a hard failure."""


class Rejected(Exception):
    """Raised by a handler to answer with the dialect's rendering of `rejection`."""

    def __init__(self, rejection: Rejection, detail: str = "") -> None:
        super().__init__(f"{rejection}: {detail}" if detail else str(rejection))
        self.rejection = rejection
        self.detail = detail


class TokenFault(enum.Enum):
    """Why a token lets no new debit through (`DialectAdapter.debit_session`)."""

    INVALID = "invalid"
    """No token, one the store does not know (never issued, revoked, rotated), or another
    player's that has expired."""
    EXPIRED = "expired"
    """The player's own, past its expiry."""
    NOT_THEIRS = "not_theirs"
    """Another player's, live."""


class TokenRefused(Exception):
    """A debit's token refuses it (`fault` says why); nothing was written."""

    def __init__(self, fault: TokenFault) -> None:
        super().__init__(fault.value)
        self.fault = fault


@dataclass(frozen=True, slots=True)
class EdgeContext:
    """What every adapter gets from the composition root."""

    ledger: AsyncLedger
    sessions: SessionStore
    clock: Callable[[], float] = time.time


class DialectAdapter(abc.ABC):
    """One provider account speaking one dialect. Subclasses are named `Adapter`."""

    dialect: ClassVar[str]
    timestamped: ClassVar[bool] = False
    """True when the dialect's requests carry their own timestamp, so `max_skew_s` can
    window them; a provider asking for a window on a dialect without one is refused."""

    def __init__(self, provider: ProviderConfig, context: EdgeContext) -> None:
        if provider.max_skew_s > 0 and not self.timestamped:
            raise ValueError(
                f"provider {provider.id!r}: {self.dialect} requests carry no timestamp, so "
                "max_skew_s cannot apply; remove it"
            )
        self.provider = provider
        self.context = context
        self.ledger = context.ledger
        self.sessions = context.sessions

    def fresh(self, timestamp_ms: int) -> bool:
        """Whether a request stamped `timestamp_ms` is inside the provider's window."""
        return fresh_timestamp(timestamp_ms, self.context.clock(), self.provider.max_skew_s)

    async def session_of(self, token: str, player: str) -> Session | None:
        """The session `token` names when it is `player`'s, expired or not; None for no
        token, an unknown one, or another player's (a token never serves someone else)."""
        session = await self.sessions.get(self.provider.id, token) if token else None
        return session if session is not None and session.player == player else None

    async def debit_session(
        self, token: str, player: str, tx_ids: Sequence[str] = ()
    ) -> Session | None:
        """The session `player` debits `tx_ids` under with `token`: live and theirs.

        A token no longer live (expired, revoked, rotated, unknown to the store) still lets
        through debits whose every transaction id the ledger has answered (`answered`):
        repeats, which the ledger answers from its record (the original answer, or the
        duplicate refusal for another payload; I3) whatever became of the token, since a
        provider retries a bet long after (Hub88: up to 500 times) and a token error makes
        it roll back a bet the player holds. For a repeat the session is the token's while
        the store still knows it (expired), else None: then what a debit takes from its
        session must be found as the original found it, since the ledger compares the
        repeat's payload with the original's (not its `session_id`: `debit_session_id`).
        Raises `TokenRefused` for the rest, new debits moving nothing: no token, a dead
        one, and another player's the store knows (the ledger not asked: that bet is not
        this player's).
        """
        session = await self.sessions.get(self.provider.id, token) if token else None
        now = self.context.clock()
        if session is not None and session.player != player:
            live = not session.expired(now)
            raise TokenRefused(TokenFault.NOT_THEIRS if live else TokenFault.INVALID)
        if session is not None and not session.expired(now):
            return session
        if token and tx_ids and await self._all_answered(tx_ids):
            return session
        raise TokenRefused(TokenFault.INVALID if session is None else TokenFault.EXPIRED)

    async def _all_answered(self, tx_ids: Sequence[str]) -> bool:
        for tx_id in tx_ids:
            if not await self.ledger.answered(self.provider.id, tx_id):
                return False
        return True

    async def available(self, player: str, currency: str) -> Decimal | None:
        """The player's available balance (cash minus holds), or None when the ledger
        refuses to read it (no such wallet): an answer then goes without a balance."""
        try:
            return (await self.ledger.balance(player, currency)).available
        except Refused:
            return None

    @abc.abstractmethod
    def endpoints(self) -> Sequence[Endpoint]:
        """Every path this dialect serves, relative to its mount point."""

    @abc.abstractmethod
    def reject(self, rejection: Rejection, endpoint: Endpoint | None) -> EdgeResponse:
        """The dialect's answer to an edge refusal; never raises."""


def debit_session_id(session: Session | None, token: str) -> str:
    """The `session_id` of a debit with `token` (`debit_session` gave `session`): the
    session's recorded one, or the token's own ref when the store no longer knows it (a
    repeat: the ledger answers it from its record and records nothing of it)."""
    return session_ref(token) if session is None else recorded_session(session, token)
