"""The catalogue: which live tables a provider runs, and which a player may sit at.

Discovery (seed B "Catalogue and limits"): `GET /platform/v1/providers/{id}/tables` lists
a provider's tables with their game, limits per bet type, side bets, dealer languages,
schedule, status and stream URLs; the lobby (`GET /platform/v1/lobby?player=...`) lists
the tables a player may play, by the country, currency and KYC status of the player's
open session (or given in the query).

A table's `status` is hot state: `OPEN` takes bets, `CLOSED` (outside its schedule) and
`MAINTENANCE` are listed but take no bets, `HIDDEN` is left out of the lobby and takes no
bets. While a provider is down, every table of it is `HIDDEN` and a bet there is refused
with `LBRG-503 PROVIDER_DOWN`; the tables come back as they were when it recovers.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import msgspec

from contracts.ids import Id
from contracts.ids import OptionalId
from contracts.ids import Text
from contracts.launch import KycStatus
from contracts.launch import StreamUrls


class TableStatus(enum.StrEnum):
    OPEN = "OPEN"
    """Betting rounds run; bets are taken."""
    CLOSED = "CLOSED"
    """Outside the table's schedule; listed, no bets."""
    MAINTENANCE = "MAINTENANCE"
    """Listed as under maintenance; no bets."""
    HIDDEN = "HIDDEN"
    """Not in the lobby; no bets (its provider is down, or the operator hid it)."""


class BetLimits(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The smallest and largest stake on one bet type of a table, in `currency`."""

    min_bet: Decimal
    max_bet: Decimal


class Table(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One live table of a provider, as the lobby shows it."""

    provider: str
    table_id: str
    game: str
    """The game played: `roulette`, `blackjack`, `baccarat`, ..."""
    name: str
    status: TableStatus
    currencies: tuple[str, ...]
    """The currencies the table plays in; `limits` hold in each."""
    limits: dict[str, BetLimits]
    """Bet type (market, e.g. `roulette_straight`) -> its limits."""
    side_bets: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    """The dealer's languages (BCP 47), not the interface's."""
    schedule: str = "24/7"
    """When the table runs, in UTC: `24/7` or `HH:MM-HH:MM` (may pass midnight)."""
    stream: StreamUrls = StreamUrls()
    status_reason: str = ""
    """Why the table is not `OPEN` (a maintenance note, `PROVIDER_DOWN`), when it says."""


class Tables(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A provider's tables (every status but `HIDDEN`, unless asked for)."""

    provider: str
    provider_up: bool
    tables: tuple[Table, ...]
    server_time: datetime


class Lobby(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The tables a player may play now, over every provider."""

    player: str
    country: str
    currency: str
    kyc_status: KycStatus
    tables: tuple[Table, ...]
    server_time: datetime


class SetTableStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Set a table's status by hand (maintenance, hiding it); `reason` is shown with it."""

    status: TableStatus
    reason: Text = ""


class SetProviderStatus(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Mark a provider down (its tables hidden, bets refused) or up again."""

    up: bool
    reason: Text = ""


class TableState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A table's hot status as livebridge holds it."""

    provider: Id
    table_id: OptionalId
    status: TableStatus
    reason: str = ""
    changed_at: datetime


class ProviderState(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Whether a provider is up, as livebridge holds it."""

    provider: Id
    up: bool
    reason: str = ""
    changed_at: datetime
