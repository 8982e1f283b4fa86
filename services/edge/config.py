"""Provider configuration: who may call the edge, in which dialect, with which secrets.

Providers are listed in a TOML file, `livebridge.toml` in the working directory unless
`LIVEBRIDGE_CONFIG` names another. Secrets never live in that file (it may be committed):
each provider names an environment variable (`secret_env`) or a file (`secret_file`)
holding its secret; for Hub88 the "secret" is Hub88's RSA public key in PEM::

    [[provider]]
    id = "hub88"                   # [a-z0-9_-]+, unique; the route segment
    dialect = "hub88"              # one of services/edge/adapters/registry.py ADAPTERS
    currencies = ["EUR", "USD"]
    secret_file = "/etc/livebridge/hub88-public.pem"   # or secret_env = "HUB88_PUBLIC_KEY"
    allow_ips = ["10.20.0.0/16"]   # default: loopback only
    trusted_proxies = ["10.0.0.5"] # peers whose X-Forwarded-For names the caller (default none)
    rate_limit = 2000              # requests per second, sustained (default 1000)
    burst = 4000                   # bucket size (default 2 x rate_limit)
    max_body_bytes = 65536         # default 64 KiB
    answer_within_s = 0.9          # past this, answer the dialect's retryable error
                                   # (default: the dialect's, see ANSWER_WITHIN_S)
    max_skew_s = 300               # refuse requests whose timestamp is further than this
                                   # from our clock; 0 turns it off (default: the
                                   # dialect's, see MAX_SKEW_S)
    default = true                 # also serve /wallet/hub88/... (the only provider of a
                                   # dialect is the default without saying so)
    # [provider.options]: a dialect's own settings (DIALECT_OPTIONS: Hub88 has none) and
    # the game feed's (FEED_OPTIONS), see each adapter and services/edge/feeds/setup.py

Any other key is refused at start, naming the known ones: a typo (`allow_ip`, `rate_limt`)
would otherwise drop a control without a word. So is an option its dialect does not read
(`DIALECT_OPTIONS`, beside the feeds' `FEED_OPTIONS`).

Answer deadlines: a wallet call not done within `answer_within_s` gets the dialect's
retryable error in time (the work goes on; the provider's retry or rollback finds it). The
default is the dialect's, from `reference/provider-dialects.md`:

- evolution 0.6 s: Evolution's certification tool fails any answer slower than 700 ms;
  0.6 leaves 100 ms for the network and the HTTP layer.
- hub88 0.9 s: Hub88 gives up on a bet after 1 s and retries or rolls it back; an answer
  at 0.9 s beats its timeout with a clear `RS_ERROR_UNKNOWN`.
- pragmatic, ezugi, softswiss 3.0 s [INFER]: no timeout is published; 3 s stays under
  the usual 5 s of HTTP clients, so the provider hears our retryable error (Pragmatic
  100, Ezugi 503, SoftSwiss 503) rather than its own timeout.
- any other dialect 5.0 s.

Timestamp windows (`max_skew_s`): a signed request replayed later is refused when the
dialect carries a request timestamp. Defaults, per dialect:

- ezugi 300 s: every request carries `timestamp` (ms); `/auth` and `/debit` outside the
  window are refused (a replayed `/auth` would mint a fresh session each time). Credits
  and rollbacks are never refused for age: they must always settle.
- pragmatic 0 (off) [INFER]: `timestamp` is sent, but Pragmatic re-sends failed calls for
  reconciliation hours later; set it to window `bet.html` only.
- hub88, evolution, softswiss: their requests carry no timestamp, so there is nothing to
  window; a positive `max_skew_s` for them is refused at start.

Errors::

    ValueError
    └── ConfigError     the file is missing, malformed, or names a secret that is absent
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TypeVar

import msgspec

from contracts.money import EXPONENTS

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
OptionValue = str | int | float | bool
LOOPBACK: tuple[IpNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")


ANSWER_WITHIN_S: Mapping[str, float] = {
    "evolution": 0.6,
    "hub88": 0.9,
    "pragmatic": 3.0,
    "ezugi": 3.0,
    "softswiss": 3.0,
}
"""Default answer deadline per dialect, in seconds (see the module docstring for why)."""
DEFAULT_ANSWER_WITHIN_S = 5.0


MAX_SKEW_S: Mapping[str, float] = {"ezugi": 300.0}
"""Default request-timestamp window per dialect, in seconds; absent means off."""


FEED_OPTIONS = frozenset(
    {
        "feed",
        "feed_secret_env",
        "feed_secret_file",
        "feed_url",
        "feed_url_alternate",
        "feed_token_env",
        "feed_token_file",
        "feed_poll_s",
        "feed_gap_timeout_s",
    }
)
"""The `[provider.options]` of a provider's game-event feed (`services.edge.feeds.setup`),
for every dialect."""

DIALECT_OPTIONS: Mapping[str, frozenset[str]] = {
    "evolution": frozenset({"session_ttl_s", "test_sid"}),
    "ezugi": frozenset({"operator_id", "session_ttl_s"}),
    "hub88": frozenset(),
    "pragmatic": frozenset({"provider_id"}),
    "softswiss": frozenset(),
}
"""The `[provider.options]` each dialect's adapter reads, beside `FEED_OPTIONS`; any other
is refused. A dialect not listed here has its options left unchecked (no adapter speaks it,
and the adapters' check says so)."""


def answer_within_s_for(dialect: str) -> float:
    return ANSWER_WITHIN_S.get(dialect, DEFAULT_ANSWER_WITHIN_S)


class ConfigError(ValueError):
    """The provider configuration cannot be used; the message names the provider and key."""


class ProviderEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The keys a `[[provider]]` may have, as written (see the module docstring); their
    values are checked one by one, each message naming its key."""

    id: object = None
    dialect: object = None
    currencies: object = None
    secret_env: object = None
    secret_file: object = None
    allow_ips: object = None
    trusted_proxies: object = msgspec.field(default_factory=list)
    rate_limit: object = 1000
    burst: object = None
    max_body_bytes: object = 65536
    answer_within_s: object = None
    max_skew_s: object = -1.0
    default: bool = False
    options: object = msgspec.field(default_factory=dict)


Entry = TypeVar("Entry", bound=msgspec.Struct)


def entry_as(kind: type[Entry], table: Mapping[str, object], where: str) -> Entry:
    """`table` as `kind`, whose fields are the keys it may have: any other key (a typo that
    would drop a setting without a word) is refused, with the known ones, as `[sla]` and
    `[[table]]` refuse theirs."""
    fields = kind.__struct_fields__
    if "secret" in table and "secret" not in fields:
        raise ConfigError(_INLINE_SECRET.format(where=where))
    try:
        return msgspec.convert(table, kind)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc} (known: {', '.join(fields)})") from None


_INLINE_SECRET = (
    "{where}: secrets never go in the configuration file; use secret_env or secret_file"
)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider account: resolved secrets included, ready for an adapter."""

    id: str
    dialect: str
    currencies: tuple[str, ...]
    secret: bytes = field(repr=False)
    allow_ips: tuple[IpNetwork, ...] = LOOPBACK
    trusted_proxies: tuple[IpNetwork, ...] = ()
    rate_limit: float = 1000.0
    burst: float = 2000.0
    max_body_bytes: int = 65536
    answer_within_s: float = 0.0
    """Seconds before the dialect's retryable error goes out; 0 means the dialect's
    default (`ANSWER_WITHIN_S`)."""
    max_skew_s: float = -1.0
    """Largest distance, in seconds, between a request's own timestamp and our clock; 0
    turns the window off, a negative value means the dialect's default (`MAX_SKEW_S`)."""
    default: bool = False
    options: Mapping[str, OptionValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.answer_within_s <= 0:
            object.__setattr__(self, "answer_within_s", answer_within_s_for(self.dialect))
        if self.max_skew_s < 0:
            object.__setattr__(self, "max_skew_s", MAX_SKEW_S.get(self.dialect, 0.0))

    def option(self, name: str, default: OptionValue) -> OptionValue:
        return self.options.get(name, default)

    def flag(self, name: str) -> bool:
        """A switch option: true or false (unset: false), else `ConfigError`."""
        value = self.options.get(name, False)
        if not isinstance(value, bool):
            raise ConfigError(f"provider {self.id!r}: {name} must be true or false, got {value!r}")
        return value

    def seconds(self, name: str, default: float) -> float:
        """A duration option: a positive number of seconds, else `ConfigError` (an adapter or
        feed reads it when it is made, so a bad value stops the bridge at its start)."""
        return _number(self.options.get(name, default), f"provider {self.id!r}: {name}")

    def text_secret(self) -> str:
        return self.secret.decode().strip()


@dataclass(frozen=True, slots=True)
class ProvidersConfig:
    providers: tuple[ProviderConfig, ...]

    def __post_init__(self) -> None:
        ids = [p.id for p in self.providers]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ConfigError(f"provider ids must be unique; repeated: {', '.join(dupes)}")
        for dialect in {p.dialect for p in self.providers}:
            defaults = [p.id for p in self.providers if p.dialect == dialect and p.default]
            if len(defaults) > 1:
                raise ConfigError(
                    f"dialect {dialect!r} has several default providers ({', '.join(defaults)})"
                    "; mark at most one with default = true"
                )

    def get(self, provider_id: str) -> ProviderConfig:
        for provider in self.providers:
            if provider.id == provider_id:
                return provider
        raise KeyError(provider_id)

    def default_for(self, dialect: str) -> ProviderConfig | None:
        """The provider served at `/wallet/<dialect>/...` without a provider segment."""
        same = [p for p in self.providers if p.dialect == dialect]
        marked = [p for p in same if p.default]
        if marked:
            return marked[0]
        return same[0] if len(same) == 1 else None


def config_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("LIVEBRIDGE_CONFIG", "livebridge.toml"))


def load_providers(path: Path | None = None, *, environ: Mapping[str, str]) -> ProvidersConfig:
    """Read and validate the provider list; secrets are resolved now, so a gap fails at start.

    `environ` is the process environment the composition root read: the configuration's
    path (`LIVEBRIDGE_CONFIG`, unless `path` is given) and the secrets it names by variable.
    """
    env = environ
    source = path or config_path(env)
    try:
        document = tomllib.loads(source.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"provider configuration {source} not found; create it or set LIVEBRIDGE_CONFIG"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return parse_providers(document, environ=env, base=source.parent)


def parse_providers(
    document: Mapping[str, object],
    *,
    environ: Mapping[str, str],
    base: Path = Path("."),
) -> ProvidersConfig:
    env = environ
    entries = document.get("provider", [])
    if not isinstance(entries, list):
        raise ConfigError("`provider` must be an array of tables: [[provider]]")
    return ProvidersConfig(tuple(_provider(entry, env, base) for entry in entries))


def _provider(raw: object, env: Mapping[str, str], base: Path) -> ProviderConfig:
    if not isinstance(raw, dict):
        raise ConfigError("each [[provider]] must be a table")
    pid = raw.get("id")
    if not isinstance(pid, str) or not _ID.match(pid):
        raise ConfigError(f"provider id {pid!r} must match {_ID.pattern}")
    where = f"provider {pid!r}"
    entry = entry_as(ProviderEntry, raw, where)
    dialect = entry.dialect
    if not isinstance(dialect, str) or not _ID.match(dialect):
        raise ConfigError(f"{where}: `dialect` must name an adapter, got {dialect!r}")
    currencies = _strings(entry.currencies, f"{where}: currencies")
    unknown = [c for c in currencies if c not in EXPONENTS]
    if not currencies or unknown:
        raise ConfigError(f"{where}: currencies must be known ISO codes; bad: {unknown or '[]'}")
    rate = _number(entry.rate_limit, f"{where}: rate_limit")
    options = _options(entry.options, dialect, where)
    max_body = entry.max_body_bytes
    if not isinstance(max_body, int) or not 256 <= max_body <= 16 * 1024 * 1024:
        raise ConfigError(f"{where}: max_body_bytes must be an integer in 256..16777216")
    burst = 2 * rate if entry.burst is None else entry.burst
    within = (
        answer_within_s_for(dialect) if entry.answer_within_s is None else entry.answer_within_s
    )
    return ProviderConfig(
        id=pid,
        dialect=dialect,
        currencies=tuple(currencies),
        secret=resolve_secret(raw, env, base, where),
        allow_ips=_networks(entry.allow_ips, where),
        trusted_proxies=_networks(entry.trusted_proxies, where),
        rate_limit=rate,
        burst=_number(burst, f"{where}: burst"),
        max_body_bytes=max_body,
        answer_within_s=_number(within, f"{where}: answer_within_s"),
        max_skew_s=_skew(entry.max_skew_s, f"{where}: max_skew_s"),
        default=entry.default,
        options=options,
    )


def _options(value: object, dialect: str, where: str) -> dict[str, OptionValue]:
    """`[provider.options]`: scalars, each one the feeds or the dialect's adapter reads."""
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int | float | bool) for v in value.values()
    ):
        raise ConfigError(f"{where}: [provider.options] must hold scalars only")
    own = DIALECT_OPTIONS.get(dialect)
    if own is not None:
        known = FEED_OPTIONS | own
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"{where}: [provider.options]: unknown option "
                f"{', '.join(f'`{u}`' for u in unknown)} for dialect {dialect!r} "
                f"(known: {', '.join(sorted(known))})"
            )
    return dict(value)


def resolve_secret(
    entry: Mapping[str, object], env: Mapping[str, str], base: Path, where: str
) -> bytes:
    """The secret an entry names by `secret_env` or `secret_file` (never inline)."""
    if "secret" in entry:
        raise ConfigError(_INLINE_SECRET.format(where=where))
    name, file = entry.get("secret_env"), entry.get("secret_file")
    if isinstance(name, str) and name:
        value = env.get(name, "")
        if not value.strip():
            raise ConfigError(
                f"{where}: environment variable {name} (secret_env) is not set"
                + (" (it holds only white space)" if value else "")
            )
        return value.encode()
    if isinstance(file, str) and file:
        path = base / Path(file).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{where}: secret_file {path} unreadable ({exc.strerror})") from None
        if not data.strip():
            raise ConfigError(f"{where}: secret_file {path} is empty")
        return data
    raise ConfigError(f"{where}: set secret_env or secret_file")


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return list(value)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(f"{where} must be a positive number, got {value!r}")
    return float(value)


def _skew(value: object, where: str) -> float:
    if value == -1.0:
        return -1.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ConfigError(f"{where} must be a number of seconds >= 0 (0: off), got {value!r}")
    return float(value)


def _networks(value: object, where: str) -> tuple[IpNetwork, ...]:
    if value is None:
        return LOOPBACK
    nets: list[IpNetwork] = []
    for text in _strings(value, f"{where}: allow_ips"):
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(f"{where}: allow_ips entry {text!r} is not an IP or CIDR") from None
    return tuple(nets)


def networks(texts: Sequence[str]) -> tuple[IpNetwork, ...]:
    """CIDR strings to networks, for configs built in code (tests, the simulator)."""
    return tuple(ipaddress.ip_network(t, strict=False) for t in texts)
