"""Who may call the platform API: operator API keys and the player-token settings.

Read from the same `livebridge.toml` as the providers. Secrets never live in the file:
each key names an environment variable (`secret_env`) or a file (`secret_file`)::

    [platform]
    player_token_secret_env = "LIVEBRIDGE_PLAYER_TOKEN_SECRET"  # signs player JWTs (HS256)
    player_token_ttl_s = 300       # a player token's life, at most 600 s (default 300)
    provider_idle_s = 1800         # a provider token expires after this long unused
                                   # (sliding; default 1800, at most 86400)

    [[operator]]
    id = "casino"                  # [a-z0-9_-]+
      [[operator.key]]             # several keys per operator: rotate with two live
      id = "2026-12"
      secret_env = "CASINO_KEY_2026_12"
      scopes = ["read", "cashier", "sessions"]
      [[operator.key]]
      id = "2027-01"
      secret_file = "/etc/livebridge/casino-2027-01.key"
      scopes = ["admin"]

Limit profiles and the rules that allow them may start from the file too (the operator
API's `limits.update`s, stored in the log, override them per provider, table, currency and
profile)::

    [[limits.profile]]
    name = "DEFAULT"               # DEFAULT, VIP_A, VIP_B, Ultra, or a name of yours
    currency = "EUR"               # optional: every currency
    provider = "evolution"         # optional: every provider (table = "..." needs one)
    min_bet = "1.00"
    max_bet = "500.00"
    max_round = "2000.00"
    bet_types = { roulette_straight = { max = "100.00" } }

    [[limits.rule]]                # first match decides; none matching: every profile
    country = "DE"                 # each of country, currency, kyc_status optional
    kyc_status = "VERIFIED"
    profiles = ["DEFAULT", "VIP_A"]

A key is presented as `Authorization: Bearer <secret>`; secrets are at least 24
characters. Without any `[[operator]]` every platform route answers `LBRG-401`.
Without a player-token secret, one is drawn at start (player tokens then work in this
process only, and a warning says so).

A key these tables do not have (`scope`, `player_token_tll_s`, `max_bett`) is refused at
start, naming the known ones: it would drop a setting without a word.

Errors: `services.edge.config.ConfigError`, naming the operator and key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from contracts import ids
from contracts import money
from contracts.api import Scope
from contracts.launch import KycStatus
from contracts.player import LimitsUpdate
from contracts.protection import ProfileRule
from services.edge.config import ConfigError
from services.edge.config import entry_as
from services.edge.config import resolve_secret
from services.ledger.protection import Baseline

log = logging.getLogger(__name__)

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")
PROFILE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}\Z")
"""What a limit profile's name may be (`contracts.protection.ProfileName`)."""
COUNTRY = re.compile(r"^[A-Z]{2}\Z")
"""ISO 3166-1 alpha-2, as a launch takes it (`contracts.launch.Country`)."""
MIN_SECRET = 24
MAX_PLAYER_TOKEN_TTL_S = 600.0
DEFAULT_PLAYER_TOKEN_TTL_S = 300.0
DEFAULT_PROVIDER_IDLE_S = 1800.0
MAX_PROVIDER_IDLE_S = 86400.0
"""A provider token never outlives a day of silence (design, decision 11)."""


class PlatformEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The keys `[platform]` may have; their values are checked one by one."""

    player_token_secret_env: object = None
    player_token_secret_file: object = None
    player_token_ttl_s: object = DEFAULT_PLAYER_TOKEN_TTL_S
    provider_idle_s: object = DEFAULT_PROVIDER_IDLE_S


class OperatorEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The keys an `[[operator]]` may have."""

    id: object = None
    key: object = msgspec.field(default_factory=list)


class KeyEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The keys an `[[operator.key]]` may have."""

    id: object = None
    secret_env: object = None
    secret_file: object = None
    scopes: object = None


class LimitsSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The tables `[limits]` may have."""

    profile: object = msgspec.field(default_factory=list)
    rule: object = msgspec.field(default_factory=list)


class ProfileEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The keys a `[[limits.profile]]` may have; `LimitsUpdate` checks their values."""

    name: object = None
    currency: object = ""
    provider: object = ""
    table: object = ""
    min_bet: object = None
    max_bet: object = None
    max_round: object = None
    bet_types: object = msgspec.field(default_factory=dict)


class RuleEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The keys a `[[limits.rule]]` may have; `ProfileRule` checks their values."""

    profiles: object = None
    country: object = ""
    currency: object = ""
    kyc_status: object = ""


@dataclass(frozen=True, slots=True)
class OperatorKey:
    """One live API key of an operator; only the SHA-256 of its secret is kept."""

    operator: str
    key_id: str
    digest: bytes = field(repr=False)
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


@dataclass(frozen=True, slots=True)
class FrontdoorConfig:
    keys: tuple[OperatorKey, ...] = ()
    player_token_secret: bytes = field(default=b"", repr=False)
    player_token_ttl_s: float = DEFAULT_PLAYER_TOKEN_TTL_S
    provider_idle_s: float = DEFAULT_PROVIDER_IDLE_S
    limits: Baseline = field(default_factory=Baseline)

    def __post_init__(self) -> None:
        if not self.player_token_secret:
            log.warning(
                "no player_token_secret_env/_file in [platform]: player tokens are signed "
                "with a key drawn now, valid in this process only"
            )
            object.__setattr__(self, "player_token_secret", secrets.token_bytes(32))


def key_digest(secret: str | bytes) -> bytes:
    return hashlib.sha256(secret.encode() if isinstance(secret, str) else secret).digest()


def read_document(path: Path) -> dict[str, Any] | None:
    """The TOML document at `path`, None when there is no file: the front door's parts are
    optional, unlike the providers' (`load_providers` refuses a missing file)."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_frontdoor(path: Path, *, environ: Mapping[str, str]) -> FrontdoorConfig:
    """The front door's part of `path`; no file means no operator keys."""
    document = read_document(path)
    if document is None:
        return FrontdoorConfig()
    return parse_frontdoor(document, environ=environ, base=path.parent)


def parse_frontdoor(
    document: Mapping[str, object], *, environ: Mapping[str, str], base: Path = Path(".")
) -> FrontdoorConfig:
    operators = document.get("operator", [])
    if not isinstance(operators, list):
        raise ConfigError("`operator` must be an array of tables: [[operator]]")
    keys = [key for entry in operators for key in _operator(entry, environ, base)]
    operator_ids = [entry.get("id") for entry in operators]
    twice = sorted({str(i) for i in operator_ids if operator_ids.count(i) > 1})
    if twice:
        # keys then shared an identity (`casino/k1` read-only and `casino/k1` admin): the
        # audit trail's `operator` could not tell which key made a change
        raise ConfigError(f"[[operator]] ids must be unique; listed twice: {', '.join(twice)}")
    secrets_seen: dict[bytes, str] = {}
    for key in keys:
        where = f"operator {key.operator!r} key {key.key_id!r}"
        if key.digest in secrets_seen:
            raise ConfigError(f"{where}: same secret as {secrets_seen[key.digest]}")
        secrets_seen[key.digest] = where
    raw_platform = document.get("platform", {})
    if not isinstance(raw_platform, dict):
        raise ConfigError("[platform] must be a table")
    platform = entry_as(PlatformEntry, raw_platform, "[platform]")
    token_secret = b""
    if (
        platform.player_token_secret_env is not None
        or platform.player_token_secret_file is not None
    ):
        entry = {
            "secret_env": platform.player_token_secret_env,
            "secret_file": platform.player_token_secret_file,
        }
        token_secret = resolve_secret(entry, environ, base, "[platform] player token")
        if len(token_secret.strip()) < 32:
            raise ConfigError("[platform]: the player token secret must be >= 32 bytes")
    ttl = _seconds(platform.player_token_ttl_s, "player_token_ttl_s", MAX_PLAYER_TOKEN_TTL_S)
    idle = _seconds(platform.provider_idle_s, "provider_idle_s", MAX_PROVIDER_IDLE_S)
    return FrontdoorConfig(
        keys=tuple(keys),
        player_token_secret=token_secret.strip(),
        player_token_ttl_s=ttl,
        provider_idle_s=idle,
        limits=parse_limits(document.get("limits", {})),
    )


Problem = tuple[str, str]
"""What is wrong with a limit profile or a rule: an LBRG code and a message."""


def limits_problem(update: LimitsUpdate) -> Problem | None:
    """What is wrong with a `limits.update`, or None. The operator API and
    `[[limits.profile]]` both check with it: a bound that is no amount (NaN compares with
    nothing: every bet under it would fail), a minimum over its maximum, an unknown
    currency, a table without its provider."""
    limits = update.limits
    if not PROFILE.match(limits.profile):
        return "INVALID_REQUEST", f"profile {limits.profile!r} must match {PROFILE.pattern}"
    named = [("provider", update.provider), ("table", update.table)]
    for field_name, text in [*named, *(("a betTypes market", m) for m in limits.bet_types)]:
        # no bet names an id outside the policy: such limits would bind nothing
        wrong = ids.problem(text, field_name, optional=True)
        if wrong is not None:
            return "INVALID_REQUEST", wrong
    if update.table and not update.provider:
        return "INVALID_REQUEST", "a table's limits need its provider"
    if update.currency and update.currency not in money.EXPONENTS:
        return "UNKNOWN_CURRENCY", f"unknown currency {update.currency!r}"
    bounds: list[tuple[str, Decimal | None, Decimal | None]] = [
        ("minBet/maxBet", limits.min_bet, limits.max_bet),
        ("maxRound", None, limits.max_round),
        *((f"betTypes.{m}", b.min, b.max) for m, b in limits.bet_types.items()),
    ]
    for what, low, high in bounds:
        for value in (low, high):
            if value is None:
                continue
            if not value.is_finite() or value < 0 or value > money.MAX_AMOUNT:
                return "INVALID_AMOUNT", f"{what}: {value} is not an amount"
            if update.currency:
                try:
                    money.check_amount(value, update.currency)
                except money.MoneyError as exc:
                    return "INVALID_AMOUNT", f"{what}: {exc}"
        if low is not None and high is not None and low > high:
            return "INVALID_AMOUNT", f"{what}: the minimum {low} is over the maximum {high}"
    return None


def rule_problem(rule: ProfileRule) -> Problem | None:
    """What is wrong with a profile rule, or None. A rule is matched against the session's
    values exactly: a country, currency or KYC status no session has (`de`, `euro`,
    `verified`) would never match, and its players would fall through to the next rule."""
    if rule.country and not COUNTRY.match(rule.country):
        return "INVALID_REQUEST", f"country {rule.country!r} must be ISO 3166-1 alpha-2 (DE)"
    if rule.currency and rule.currency not in money.EXPONENTS:
        return "UNKNOWN_CURRENCY", f"unknown currency {rule.currency!r}"
    if rule.kyc_status and rule.kyc_status not in set(KycStatus):
        known = ", ".join(KycStatus)
        return "INVALID_REQUEST", f"kycStatus {rule.kyc_status!r} must be one of {known}"
    return None


def parse_limits(section: object) -> Baseline:
    """`[limits]`: `[[limits.profile]]` and `[[limits.rule]]` (see the module docstring)."""
    if not isinstance(section, dict):
        raise ConfigError("[limits] must be a table")
    limits = entry_as(LimitsSection, section, "[limits]")
    updates = []
    if not isinstance(limits.profile, list):
        raise ConfigError("[[limits.profile]] must be an array of tables")
    for raw in limits.profile:
        if not isinstance(raw, dict):
            raise ConfigError("each [[limits.profile]] must be a table")
        where = f"[[limits.profile]] {raw.get('name')!r}"
        entry = entry_as(ProfileEntry, raw, where)
        fields = {
            "profile": entry.name,
            "minBet": entry.min_bet,
            "maxBet": entry.max_bet,
            "maxRound": entry.max_round,
            "betTypes": entry.bet_types,
        }
        document = {
            "provider": entry.provider,
            "table": entry.table,
            "currency": entry.currency,
            "effectiveAt": "1970-01-01T00:00:00Z",
            "limits": {k: v for k, v in fields.items() if v is not None},
        }
        try:
            update = msgspec.convert(document, LimitsUpdate, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        problem = limits_problem(update)
        if problem is not None:
            raise ConfigError(f"{where}: {problem[1]}")
        updates.append(update)
    entries = limits.rule
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError("[[limits.rule]] must be an array of tables")
    for number, entry in enumerate(entries, 1):
        entry_as(RuleEntry, entry, f"[[limits.rule]] #{number}")
    camel = [{"kycStatus" if k == "kyc_status" else k: v for k, v in e.items()} for e in entries]
    try:
        rules = msgspec.convert(camel, tuple[ProfileRule, ...], strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"[[limits.rule]]: {exc}") from None
    for number, rule in enumerate(rules, 1):
        problem = rule_problem(rule)
        if problem is not None:
            raise ConfigError(f"[[limits.rule]] #{number}: {problem[1]}")
    return Baseline(updates=tuple(updates), rules=rules)


def _operator(raw: object, env: Mapping[str, str], base: Path) -> list[OperatorKey]:
    if not isinstance(raw, dict):
        raise ConfigError("each [[operator]] must be a table")
    operator = raw.get("id")
    if not isinstance(operator, str) or not _ID.match(operator):
        raise ConfigError(f"operator id {operator!r} must match {_ID.pattern}")
    entries = entry_as(OperatorEntry, raw, f"[[operator]] {operator!r}").key
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"operator {operator!r}: needs at least one [[operator.key]]")
    keys: list[OperatorKey] = []
    for key in entries:
        if not isinstance(key, dict):
            raise ConfigError(f"operator {operator!r}: each [[operator.key]] must be a table")
        key_id = key.get("id")
        if not isinstance(key_id, str) or not _ID.match(key_id):
            raise ConfigError(f"operator {operator!r}: key id {key_id!r} must match {_ID.pattern}")
        where = f"operator {operator!r} key {key_id!r}"
        entry = entry_as(KeyEntry, key, f"[[operator.key]] {key_id!r} of operator {operator!r}")
        if any(k.key_id == key_id for k in keys):
            raise ConfigError(f"{where}: key ids must be unique within an operator")
        secret = resolve_secret(key, env, base, where).strip()
        if len(secret) < MIN_SECRET:
            raise ConfigError(f"{where}: the secret must be at least {MIN_SECRET} characters")
        keys.append(
            OperatorKey(
                operator=operator,
                key_id=key_id,
                digest=key_digest(secret),
                scopes=_scopes(entry.scopes, where),
            )
        )
    return keys


def _scopes(value: object, where: str) -> frozenset[Scope]:
    known = ", ".join(s.value for s in Scope)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: scopes must be a non-empty list of {known}")
    try:
        return frozenset(Scope(v) for v in value)
    except ValueError:
        raise ConfigError(f"{where}: scopes {value} must be among {known}") from None


def _seconds(value: object, key: str, most: float) -> float:
    """`[platform] key`: seconds, from 1 to `most`. TOML has `nan` and `inf`: NaN passes
    `value <= 0` (a NaN idle time left every session closed at once, a NaN token life
    stopped the start with a traceback), an infinite or huge idle time is no date (every
    launch failed with LBRG-500), and a token life under a second (tokens count whole
    seconds) expired every player token as it was issued."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= most:
        raise ConfigError(
            f"[platform]: {key} must be a number of seconds from 1 to at most {most:.0f}, "
            f"got {value!r}"
        )
    return float(value)
