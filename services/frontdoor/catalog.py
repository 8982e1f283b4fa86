"""The catalogue of live tables: configured in `livebridge.toml`, status from KV.

Each table is a `[[table]]` of the configuration (a provider's catalogue endpoint, when
one is polled, adds or replaces its tables in the same shape)::

    [catalog]
    bet_socket_url = "wss://play.example.com/platform/v1/player/socket"
                                    # the socket's public URL (default: this server's)

    [[table]]
    provider = "evolution"          # a configured [[provider]]
    id = "roulette-1"               # unique per provider
    game = "roulette"
    name = "Lightning Roulette"
    currencies = ["EUR"]            # default: the provider's currencies
    languages = ["en", "de"]        # the dealer's
    side_bets = []
    schedule = "24/7"               # or "HH:MM-HH:MM" in UTC (may pass midnight)
    status = "OPEN"                 # OPEN, CLOSED, MAINTENANCE or HIDDEN at start
    countries = []                  # allowed (ISO 3166 alpha-2); empty: every country
    blocked_countries = ["US"]
    min_kyc = "UNVERIFIED"          # UNVERIFIED < PENDING < VERIFIED (default UNVERIFIED)
    stream = { webrtc = "wss://video.example.com/r1", hls = "https://video.example.com/r1.m3u8" }
    [table.limits]                  # per bet type, in each of the table's currencies
    roulette_straight = { min_bet = "0.10", max_bet = "100.00" }

A table's status as served is, in order: `HIDDEN` while its provider is down
(`TableStatuses.provider_up`), else the status set by hand (`TableStatuses.set_table`),
else the configured one; an `OPEN` table outside its schedule is `CLOSED`.

Errors: `services.edge.config.ConfigError`, naming the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import time
from decimal import Decimal

import msgspec

from contracts.catalog import BetLimits
from contracts.catalog import Table
from contracts.catalog import TableStatus
from contracts.launch import KycStatus
from contracts.launch import StreamUrls
from contracts.player import MarketLimits
from services.edge.config import ConfigError
from services.edge.config import ProvidersConfig
from services.edge.config import entry_as
from services.frontdoor.config import COUNTRY
from services.frontdoor.sessions import PlatformSession
from services.frontdoor.tables import TableStatuses

_KYC_RANK = {KycStatus.UNVERIFIED: 0, KycStatus.PENDING: 1, KycStatus.VERIFIED: 2}
_SCHEDULE = re.compile(r"^(24/7|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)\Z")
PROVIDER_DOWN = "PROVIDER_DOWN"


class LimitsEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[table.limits] <bet type> = { min_bet = "0.10", max_bet = "100.00" }`."""

    min_bet: Decimal
    max_bet: Decimal


class TableEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One `[[table]]` of the configuration (or of a provider's catalogue endpoint)."""

    provider: str
    id: str
    game: str
    name: str = ""
    currencies: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    side_bets: tuple[str, ...] = ()
    schedule: str = "24/7"
    status: TableStatus = TableStatus.OPEN
    countries: frozenset[str] = frozenset()
    blocked_countries: frozenset[str] = frozenset()
    min_kyc: KycStatus = KycStatus.UNVERIFIED
    stream: StreamUrls = StreamUrls()
    limits: dict[str, LimitsEntry] = {}

    @property
    def market_limits(self) -> dict[str, MarketLimits]:
        return {
            kind: MarketLimits(min=lim.min_bet, max=lim.max_bet)
            for kind, lim in self.limits.items()
        }


def open_at(schedule: str, at: datetime) -> bool:
    """Whether a table of `schedule` (`24/7` or `HH:MM-HH:MM` UTC) runs at `at`."""
    if schedule == "24/7":
        return True
    start, end = (time.fromisoformat(part) for part in schedule.split("-"))
    now = at.time().replace(tzinfo=None)
    return start <= now < end if start <= end else now >= start or now < end


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every known table, by provider; `statuses` gives their hot status."""

    entries: Mapping[tuple[str, str], TableEntry] = field(default_factory=dict)
    bet_socket_url: str = ""
    listing: frozenset[str] = field(init=False, default=frozenset())
    """The providers some of whose tables are listed (read for every bet)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "listing", frozenset(provider for provider, _ in self.entries))

    def find(self, provider: str, table: str) -> TableEntry | None:
        return self.entries.get((provider, table))

    def bet_limits(self, provider: str, table: str, currency: str) -> dict[str, MarketLimits]:
        """The table's own limits per bet type in `currency` (none: not a table of the
        catalogue, or not in that currency); the ledger adds them to the profile's."""
        entry = self.entries.get((provider, table))
        if entry is None or (entry.currencies and currency not in entry.currencies):
            return {}
        return entry.market_limits

    def of(self, provider: str) -> list[TableEntry]:
        return [entry for (p, _), entry in self.entries.items() if p == provider]

    def table(self, entry: TableEntry, statuses: TableStatuses, at: datetime) -> Table:
        """`entry` as served now: its status per the module docstring."""
        status, reason = entry.status, ""
        set_by_hand = statuses.table(entry.provider, entry.id)
        if set_by_hand is not None:
            status, reason = set_by_hand.status, set_by_hand.reason
        if not statuses.provider_up(entry.provider):
            status, reason = TableStatus.HIDDEN, PROVIDER_DOWN
        elif status is TableStatus.OPEN and not open_at(entry.schedule, at):
            status, reason = TableStatus.CLOSED, f"outside its schedule ({entry.schedule} UTC)"
        return Table(
            provider=entry.provider,
            table_id=entry.id,
            game=entry.game,
            name=entry.name or entry.id,
            status=status,
            currencies=entry.currencies,
            limits={
                kind: BetLimits(min_bet=lim.min_bet, max_bet=lim.max_bet)
                for kind, lim in entry.limits.items()
            },
            side_bets=entry.side_bets,
            languages=entry.languages,
            schedule=entry.schedule,
            stream=entry.stream,
            status_reason=reason,
        )

    def refusal(
        self,
        statuses: TableStatuses,
        provider: str,
        table: str,
        at: datetime,
        seat: PlatformSession | None = None,
    ) -> tuple[str, str] | None:
        """Why a bet at `provider`'s `table` is refused now (an `ERRORS` code and a message),
        or None. A table the catalogue does not list takes no bets when it lists others of
        the provider (judged by its provider alone when it lists none); one the lobby hides
        from the `seat`'s player (country, currency, KYC) refuses its bets as its launch is
        refused (a session launched at another table bets on its own)."""
        if not statuses.provider_up(provider):
            state = statuses.provider(provider)
            why = f" ({state.reason})" if state is not None and state.reason else ""
            return PROVIDER_DOWN, f"provider {provider!r} is down{why}; its tables take no bets"
        entry = self.find(provider, table)
        if entry is None:
            if table and provider in self.listing:  # its launch is refused (TABLE_NOT_FOUND)
                return "TABLE_CLOSED", f"table {table!r} of {provider!r} is not in the catalogue"
            return None
        if seat is not None:
            kyc = KycStatus(seat.kyc_status)
            hidden = barred(entry, country=seat.country, currency=seat.currency, kyc=kyc)
            if hidden:
                return "TABLE_CLOSED", f"table {table!r} of {provider!r} is hidden: {hidden}"
        served = self.table(entry, statuses, at)
        if served.status is not TableStatus.OPEN:
            why = f": {served.status_reason}" if served.status_reason else ""
            return "TABLE_CLOSED", f"table {table!r} of {provider!r} is {served.status}{why}"
        return None

    def lobby(
        self,
        statuses: TableStatuses,
        at: datetime,
        *,
        country: str,
        currency: str,
        kyc: KycStatus,
    ) -> list[Table]:
        """The tables a player of `country`, `currency` and `kyc` may see now (not HIDDEN)."""
        shown = []
        for entry in self.entries.values():
            if barred(entry, country=country, currency=currency, kyc=kyc):
                continue
            table = self.table(entry, statuses, at)
            if table.status is not TableStatus.HIDDEN:
                shown.append(table)
        return sorted(shown, key=lambda t: (t.provider, t.table_id))

    def with_entries(self, provider: str, entries: Iterable[TableEntry]) -> Catalog:
        """This catalogue with `provider`'s tables replaced by `entries`."""
        kept = {key: entry for key, entry in self.entries.items() if key[0] != provider}
        kept.update({(e.provider, e.id): e for e in entries})
        return Catalog(entries=kept, bet_socket_url=self.bet_socket_url)


def barred(entry: TableEntry, *, country: str, currency: str, kyc: KycStatus) -> str:
    """Why a player of `country`, `currency` and `kyc` may not sit at `entry`'s table, or
    "" when they may: the lobby leaves such a table out, and a launch there is refused."""
    if currency not in entry.currencies:
        return f"it plays {', '.join(entry.currencies)}, not {currency}"
    if country in entry.blocked_countries or (entry.countries and country not in entry.countries):
        return f"it is not offered in {country}"
    if _KYC_RANK[kyc] < _KYC_RANK[entry.min_kyc]:
        return f"it needs KYC status {entry.min_kyc.value}, not {kyc.value}"
    return ""


def check_entry(entry: TableEntry, providers: ProvidersConfig, where: str) -> TableEntry:
    """`entry` with its currencies filled in, or `ConfigError` saying what is wrong."""
    try:
        offered = providers.get(entry.provider).currencies
    except KeyError:
        raise ConfigError(f"{where}: no [[provider]] {entry.provider!r}") from None
    if not _SCHEDULE.match(entry.schedule):
        raise ConfigError(f"{where}: schedule {entry.schedule!r} is not 24/7 or HH:MM-HH:MM")
    for key, countries in (
        ("countries", entry.countries),
        ("blocked_countries", entry.blocked_countries),
    ):
        # a player's country is ISO 3166-1 alpha-2, upper case: "us" would block nobody
        wrong = sorted(c for c in countries if not COUNTRY.match(c))
        if wrong:
            raise ConfigError(f"{where}: {key} {wrong} are not ISO 3166-1 alpha-2 codes (DE)")
    unknown = [c for c in entry.currencies if c not in offered]
    if unknown:
        raise ConfigError(f"{where}: provider {entry.provider!r} offers no {', '.join(unknown)}")
    for bet_type, limits in entry.limits.items():
        # NaN is no amount and would not even compare: a poll's answer must fail as a ConfigError
        finite = limits.min_bet.is_finite() and limits.max_bet.is_finite()
        if not (finite and 0 < limits.min_bet <= limits.max_bet):
            raise ConfigError(
                f"{where}: limits of {bet_type!r} need amounts with 0 < min_bet <= max_bet"
            )
    if not entry.currencies:
        entry = msgspec.structs.replace(entry, currencies=offered)
    return entry


class CatalogSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The keys `[catalog]` may have (`source`: `services.frontdoor.catalog_poll`)."""

    bet_socket_url: object = ""
    source: object = msgspec.field(default_factory=list)


def parse_catalog(document: Mapping[str, object], providers: ProvidersConfig) -> Catalog:
    """The `[catalog]` and `[[table]]` parts of a parsed `livebridge.toml`."""
    section = document.get("catalog", {})
    if not isinstance(section, dict):
        raise ConfigError("[catalog] must be a table")
    socket_url = entry_as(CatalogSection, section, "[catalog]").bet_socket_url
    if not isinstance(socket_url, str) or (
        socket_url and not socket_url.startswith(("ws://", "wss://"))
    ):
        raise ConfigError("[catalog] bet_socket_url must be a ws:// or wss:// URL")
    raw = document.get("table", [])
    if not isinstance(raw, list):
        raise ConfigError("`table` must be an array of tables: [[table]]")
    entries: dict[tuple[str, str], TableEntry] = {}
    for number, item in enumerate(raw, 1):
        where = f"[[table]] #{number}"
        try:
            entry = msgspec.convert(item, TableEntry, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        where = f"[[table]] {entry.provider}/{entry.id}"
        if (entry.provider, entry.id) in entries:
            raise ConfigError(f"{where}: listed twice")
        entries[(entry.provider, entry.id)] = check_entry(entry, providers, where)
    return Catalog(entries=entries, bet_socket_url=socket_url)
