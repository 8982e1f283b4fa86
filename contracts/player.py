"""The canonical player contract: what a player's front sends and what livebridge answers.

One contract for every provider: the front places a bet with `bet.place` (over REST or
the bet socket) and hears `bet.accepted` or `bet.rejected`; the socket also pushes
`limits.update`, `session.close` and `provider.error`. Settlements reach the platform as
`round.settle` (`contracts.platform`).

Rules for every message:
- Amounts are decimal strings in their currency's precision (`"5.00"` EUR), never
  numbers; times are RFC 3339 UTC (`serverTime` is livebridge's clock: run betting
  timers from it, not from the device).
- `idempotencyKey` makes a bet exactly once: a double click (same key, same payload) is
  one debit and gets the first answer again; the same key with another payload is
  refused with `LBRG-409 IDEMPOTENCY_CONFLICT`.
- Ids are stable: `roundId` is the provider's round (globally unique with the provider,
  table, UTC time and shard), `betId` names one bet forever, `transactionId` one money
  movement.
- Schemas only grow: new fields come with defaults; a breaking change gets a new `type`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import msgspec

from contracts.ids import Id
from contracts.money import AmountText
from contracts.platform import RoundSettle
from contracts.tagged import Tagged
from contracts.wallet import Selection


class Stake(msgspec.Struct, frozen=True, kw_only=True):
    """An amount of money in a currency."""

    amount: AmountText
    currency: str


class MarketLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The smallest and largest stake on one bet type (`roulette_straight`, `banker`, ...)."""

    min: Decimal | None = None
    max: Decimal | None = None


class EffectiveLimits(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The limits that applied to a bet (or apply from now on, in `limits.update`).

    None means no limit of that kind. `minBet`/`maxBet` bound one bet's stake, `betTypes`
    the part of it on each pick's market, `maxRound` the player's stakes in one round.
    """

    profile: str = "DEFAULT"
    """The limit profile: `DEFAULT`, `VIP_A`, `VIP_B`, `Ultra` or one the operator defined."""
    min_bet: Decimal | None = None
    max_bet: Decimal | None = None
    max_round: Decimal | None = None
    """The most a player may stake in one round, all bets together."""
    bet_types: dict[str, MarketLimits] = msgspec.field(default_factory=dict)
    """Limits per bet type (market), e.g. `{"roulette_straight": {"max": "100.00"}}`."""


class BetPlace(Tagged, frozen=True, kw_only=True, tag="bet.place"):
    """The player bets `stake` on `selection` in round `roundId` of the session's table.

    livebridge checks the session, that the round is open (by the log's order, not the
    clock), the limits of `limitsProfile` and the player's protection settings, holds the
    stake in the wallet, and answers `bet.accepted` or `bet.rejected`.
    """

    idempotency_key: Id
    """1-128 characters, no control or invisible ones (`contracts.ids`), like the cashier's:
    an empty key would make every bet sent without one a repeat of the first."""
    session_id: Id
    round_id: Id
    selection: tuple[Selection, ...]
    """The picks: `{"market": "roulette_straight", "value": "17"}`; each may carry its part
    of the stake as `amount`, else the stake is split evenly."""
    stake: Stake
    limits_profile: str = ""
    """The limit profile to bet under, one the player's country, currency and KYC status
    allow; empty: the profile the operator assigned the player (`DEFAULT` unless one was)."""


class BetAccepted(Tagged, frozen=True, kw_only=True, tag="bet.accepted"):
    """The stake is held in the player's wallet: the bet stands until the round settles."""

    idempotency_key: str
    bet_id: str
    round_id: str
    balance_hold: Decimal
    """The hold on the wallet, negative: `"-5.00"`."""
    available: Decimal
    """The wallet's available balance after the hold."""
    effective_limits: EffectiveLimits
    server_time: datetime
    transaction_id: str = ""
    log_position: int = 0
    """The log position of the hold's write (read the wallet back with `?atLeast=`); 0 on
    a repeat, which the ledger answers from its record of the first answer."""


class BetRejected(Tagged, frozen=True, kw_only=True, tag="bet.rejected"):
    """The bet was refused; nothing was held or debited."""

    idempotency_key: str
    code: str
    """`LBRG-<status> <CODE>`, e.g. `LBRG-409 BETTING_CLOSED`, `LBRG-422 INVALID_STAKE`."""
    message: str
    server_time: datetime
    round_id: str = ""


class LimitsUpdate(Tagged, frozen=True, kw_only=True, tag="limits.update"):
    """New limits for a profile (and table), applying to the next bet without a restart.

    The operator sends it (`POST /platform/v1/limits`); livebridge stores it in the log
    and pushes it to connected players. The most specific update wins for a bet: provider,
    table and currency named over any left empty.
    """

    provider: str
    """Empty: every provider."""
    limits: EffectiveLimits
    effective_at: datetime
    table: str = ""
    """Empty: every table of the provider."""
    currency: str = ""
    """Empty: every currency (amounts are then read in the bet's currency)."""
    log_position: int = 0
    """Where the update is in the log (0 in what the operator sends)."""


class CloseReason(enum.StrEnum):
    PLAYER_LEFT = "PLAYER_LEFT"
    """The front closed the session."""
    OPERATOR = "OPERATOR"
    """The operator closed it (`POST /platform/v1/sessions/{id}/close`)."""
    EXPIRED = "EXPIRED"
    """Nothing happened in it for the idle time."""
    PROTECTION = "PROTECTION"
    """Player protection ended it (self-exclusion, a time-out)."""


class SessionClose(Tagged, frozen=True, kw_only=True, tag="session.close"):
    """The session is over: its tokens no longer work; open bets still settle."""

    session_id: str
    reason: CloseReason
    closed_at: datetime


class ProviderError(Tagged, frozen=True, kw_only=True, tag="provider.error"):
    """A provider (or one of its tables) is failing: bets there are refused until it recovers."""

    provider: str
    code: str
    """`LBRG-503 PROVIDER_DOWN`, or the provider's own code."""
    message: str
    occurred_at: datetime
    table: str = ""
    retryable: bool = True


class BettingOpen(Tagged, frozen=True, kw_only=True, tag="betting.opened"):
    """A round of the session's table opened for bets until `closesAt` (by the dealer's
    clock; the close itself comes as `betting.closed`)."""

    provider: str
    table: str
    round_id: str
    closes_at: datetime
    server_time: datetime
    log_position: int
    """Where this is in livebridge's log: reconnect with the last one you received."""


class BettingClose(Tagged, frozen=True, kw_only=True, tag="betting.closed"):
    """Betting closed for a round: a bet on it is refused from now on (by the log's order)."""

    provider: str
    table: str
    round_id: str
    server_time: datetime
    log_position: int


class Settlement(Tagged, frozen=True, kw_only=True, tag="round.settled"):
    """The player's round is settled: `settle` is the `round.settle` the platform gets, with
    every bet's outcome and payout and the wallet's `balanceAfter`."""

    settle: RoundSettle
    log_position: int
    """`settle.logPosition`: reconnect with it as `settledPosition`."""


class ServerTime(Tagged, frozen=True, kw_only=True, tag="server.time"):
    """livebridge's clock, pushed on the bet socket every second: run timers from it."""

    server_time: datetime
