"""Read models the ledger answers from: one round, with its bets and its verification.

`Ledger.round_state` builds a `RoundState` from the round's provider events (the `Round`
aggregate), its bets in log order (the `RoundBook`) and each bet's own aggregate. These are
answers, not wire contracts: fields only grow.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import msgspec

from contracts.wallet import Outcome


class RoundStatus(enum.StrEnum):
    UNKNOWN = "UNKNOWN"
    """No provider event for this round yet (bets may exist: seamless wallets need none)."""
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    RESULT = "RESULT"
    SETTLED = "SETTLED"
    VOIDED = "VOIDED"


class Verification(enum.StrEnum):
    PENDING = "PENDING"
    """No result yet."""
    VERIFIED = "VERIFIED"
    """The bridge's digest equals the provider's `round_hash` and seq has no gap."""
    UNHASHED = "UNHASHED"
    """The provider sent no `round_hash`; seq has no gap."""
    FLAGGED = "FLAGGED"
    """Digest mismatch, a gap in seq or a conflicting repeat: see `audit_flags`."""


class BetStatus(enum.StrEnum):
    OPEN = "OPEN"
    SETTLED = "SETTLED"
    REFUNDED = "REFUNDED"


class BetView(msgspec.Struct, frozen=True, kw_only=True):
    bet_key: str
    provider: str
    bet_id: str
    player: str
    currency: str
    stake: Decimal
    status: BetStatus
    outcome: Outcome | None = None
    payout: Decimal = Decimal(0)
    """What went back to the player (stake included); 0 for a lost bet."""
    expected_payout: Decimal | None = None
    """The ledger's own payout for the declared result, when it could compute one."""
    flagged: bool = False
    """The provider's payout differs from `expected_payout` (provider-settled rounds)."""
    cause: str = ""
    """Why the bet was refunded: LATE_BET, the round's void cause, a rollback's cause."""
    late: bool = False
    """The log ordered this bet after its round's BettingClosed (I5)."""


class RoundState(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    round_id: str
    status: RoundStatus
    table: str = ""
    game: str = ""
    closes_at: datetime | None = None
    last_seq: int = 0
    result: dict[str, str] = {}
    round_hash: str = ""
    digest: str = ""
    """The bridge's `contracts.events.round_digest` over the round's events, at the result."""
    verification: Verification = Verification.PENDING
    audit_flags: tuple[str, ...] = ()
    """Why the round needs an auditor: verification (I8: hash mismatch, seq gap, conflicting
    repeat) and what the round book could not do to a bet (VOID_UNRECOVERABLE, ...)."""
    void_cause: str = ""
    bridge_settled: bool = False
    bets: tuple[BetView, ...] = ()
