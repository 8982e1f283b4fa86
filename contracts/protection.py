"""Limit profiles and player protection as the operator sets them (scopes `limits` and
`protection`), and as livebridge applies them before every hold, on every path.

Limit profiles (`contracts.player.LimitsUpdate`, `EffectiveLimits`) bound each bet: a stake
under `minBet` or over `maxBet` (or its bet type's) is `LBRG-422 INVALID_STAKE`; stakes
over `maxRound` in one round are `LBRG-429 LIMIT_EXCEEDED`. `ProfileRules` say which
profiles a player may bet under, by country, currency and KYC status (the first rule that
matches decides; no rule matching: every profile).

Player protection (`ProtectionChange`) is checked before every hold, whoever sends the bet
(the player's front or a provider in its dialect):

- self-exclusion (for a time, or for good), a time-out / cool-off, and the KYT/AML
  high-risk flag refuse every bet: `LBRG-403 SELF_EXCLUDED` (a provider gets its
  dialect's "player blocked");
- loss, stake and deposit limits per day, week or month (UTC calendar periods; weeks start
  on Monday) refuse what would take the player past them: `LBRG-429 LIMIT_EXCEEDED`.
  Loss is what the player staked minus what came back (wins, refunds) in the period; an
  open bet counts as lost until it settles.

Every change is an event in the log, listed by `GET .../protection/history`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from contracts.money import AmountText
from contracts.player import LimitsUpdate
from contracts.tagged import Tagged

ProfileName = Annotated[str, msgspec.Meta(pattern="^[A-Za-z][A-Za-z0-9_-]{0,31}\\Z")]
"""`DEFAULT`, `VIP_A`, `VIP_B`, `Ultra`, or a name the operator defines."""
BUILT_IN_PROFILES = ("DEFAULT", "VIP_A", "VIP_B", "Ultra")


class ProfileRule(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Players matching every non-empty field may bet under `profiles`."""

    profiles: tuple[ProfileName, ...]
    country: str = ""
    currency: str = ""
    kyc_status: str = ""


class ProfileRules(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Which limit profiles a player may use; the first matching rule decides."""

    rules: tuple[ProfileRule, ...]


class LimitsState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Every limit profile livebridge applies now, and the rules that pick them."""

    updates: tuple[LimitsUpdate, ...]
    rules: tuple[ProfileRule, ...]
    log_position: int
    """The log position this state reflects."""


class Period(enum.StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


class LimitKind(enum.StrEnum):
    LOSS = "LOSS"
    STAKE = "STAKE"
    DEPOSIT = "DEPOSIT"


class SelfExclusion(Tagged, frozen=True, kw_only=True, tag="self_exclusion"):
    """The player excludes themselves until `until` (empty: for good). No bet is taken."""

    until: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    """RFC 3339 with a time zone (`Z`), in the future; none: for good."""
    reason: str = ""


class TimeOut(Tagged, frozen=True, kw_only=True, tag="time_out"):
    """A time-out or cool-off: no bet is taken for `minutes` from now."""

    minutes: Annotated[int, msgspec.Meta(ge=1, le=60 * 24 * 366)]
    reason: str = ""


class ProtectionLimit(Tagged, frozen=True, kw_only=True, tag="limit"):
    """A loss, stake or deposit limit per period in one currency; no `amount` removes it."""

    kind: LimitKind
    period: Period
    currency: str
    amount: AmountText | None = None


class RiskFlag(Tagged, frozen=True, kw_only=True, tag="risk"):
    """The KYT/AML high-risk flag: while set, live bets are refused."""

    high_risk: bool
    reason: str = ""


class LiftExclusion(Tagged, frozen=True, kw_only=True, tag="lift"):
    """End a self-exclusion or time-out early (where the regulator allows it)."""

    reason: str = ""


class AssignProfile(Tagged, frozen=True, kw_only=True, tag="profile"):
    """The limit profile of the player's bets that name none (every provider's debit)."""

    profile: ProfileName


ProtectionChange = SelfExclusion | TimeOut | ProtectionLimit | RiskFlag | LiftExclusion
"""One change of a player's protection, sent by the operator (scope `protection`)."""


class LimitView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    kind: LimitKind
    period: Period
    currency: str
    amount: str


class ProtectionView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A player's protection now: what livebridge checks before every hold."""

    player: str
    excluded_until: datetime | None = None
    """Set while self-excluded; `9999-12-31T23:59:59Z` for good."""
    time_out_until: datetime | None = None
    high_risk: bool = False
    limits: tuple[LimitView, ...] = ()
    profile: str = "DEFAULT"
    log_position: int = 0


class ProtectionRecord(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One change of a player's protection or profile, as the log holds it."""

    change: ProtectionChange | AssignProfile
    operator: str
    recorded_at: datetime
    log_position: int


class ProtectionHistory(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Every change of a player's protection, oldest first (the audit trail)."""

    player: str
    records: tuple[ProtectionRecord, ...]
