"""`livebridge.toml` as `livebridge run` reads it: every part, read once and checked whole
before anything starts.

Each area parses its own tables (`[[provider]]` and the feeds: `services.edge`; `[platform]`,
`[[operator]]`, `[limits]`, `[catalog]`, `[[table]]`: `services.frontdoor`; `[[webhooks]]`:
`services.platform`; `[sla]`: `services.ops`; `[export]` is read by `livebridge export`).
Here the file is read and decoded once, its top-level keys are checked against those
tables, each provider's adapter is made once (a Hub88 key that is no PEM key, an Ezugi
without its operator id), and whatever an area refuses becomes one `SettingsError` naming
the file and the area's own message (provider, operator or key).

The default `livebridge.toml` may be absent (a fresh machine: no providers, no operator
keys); a file that `LIVEBRIDGE_CONFIG` names must exist.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TypeVar

from services.bridge import heapwatch
from services.bridge import telemetry
from services.bridge.config import Settings
from services.bridge.config import SettingsError
from services.bridge.config import config_path
from services.edge.adapters.base import EdgeContext
from services.edge.adapters.registry import load_adapter
from services.edge.config import ProvidersConfig
from services.edge.config import parse_providers
from services.edge.feeds.setup import feed_configs
from services.edge.ports import AsyncLedger
from services.edge.sessions import MemorySessionStore
from services.frontdoor.catalog import Catalog
from services.frontdoor.catalog import parse_catalog
from services.frontdoor.catalog_poll import CatalogSource
from services.frontdoor.catalog_poll import parse_sources
from services.frontdoor.config import FrontdoorConfig
from services.frontdoor.config import parse_frontdoor
from services.ops.kpis import KpiSettings
from services.ops.sla import SlaConfig
from services.ops.sla import parse_sla
from services.platform.service import parse_endpoints
from services.platform.service import settings_from_env
from services.platform.webhooks import Endpoint

TABLES = frozenset(
    {"provider", "platform", "operator", "limits", "catalog", "table", "webhooks", "sla", "export"}
)
"""The top-level keys of `livebridge.toml`; any other is a typo the areas would not see."""

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class BridgeConfig:
    """Every part of the configuration file, parsed and checked."""

    found: bool
    """False: no file at the default path, so no providers and no operator keys."""
    notes: tuple[logging.LogRecord, ...] = ()
    """What the areas logged as they read their parts (a warning that player tokens live in
    this process only...), held back for the bridge to log once its logging is set up."""
    providers: ProvidersConfig
    frontdoor: FrontdoorConfig
    webhooks: Sequence[Endpoint]
    sla: SlaConfig
    catalog: Catalog
    catalog_sources: tuple[CatalogSource, ...]
    kpis: KpiSettings


def read_config(settings: Settings) -> BridgeConfig:
    """The configuration file of `settings`, checked whole; `SettingsError` names what is
    wrong with it, or with a setting of the environment one of its parts reads."""
    path, env = settings.config_path, settings.environ
    document = _document(path, required=settings.config_named)
    _known(path, document)
    doc, base = document or {}, path.parent
    with _held() as notes:
        providers = _part(
            path, "[[provider]]", lambda: parse_providers(doc, environ=env, base=base)
        )
        _part(path, "[[provider]]", lambda: _adapters(providers))
        _part(path, "[provider.options]", lambda: feed_configs(providers, env))
        webhooks = _part(
            path, "[[webhooks]]", lambda: parse_endpoints(doc.get("webhooks", []), path, env)
        )
        sla = _part(path, "[sla]", lambda: parse_sla(doc.get("sla", {}), path, env))
        _part(path, "[sla]", lambda: _named(providers, _SLA, sla.providers))
        catalog = _part(path, "[catalog] / [[table]]", lambda: parse_catalog(doc, providers))
        sources = _part(path, "[[catalog.source]]", lambda: parse_sources(doc))
        _part(
            path,
            "[[catalog.source]]",
            lambda: _named(providers, _SOURCE, (s.provider for s in sources)),
        )
        frontdoor = _part(
            path,
            "[platform] / [[operator]] / [limits]",
            lambda: parse_frontdoor(doc, environ=env, base=base),
        )
        profiles = (u.provider for u in frontdoor.limits.updates)
        _part(path, "[limits]", lambda: _named(providers, _PROFILE, profiles))
    try:  # settings of the environment read by parts the bridge builds, named in the message
        kpis = KpiSettings.from_env(env)
        heapwatch.check(env)
        settings_from_env(env)
        telemetry.log_format(env)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return BridgeConfig(
        found=document is not None,
        notes=tuple(notes),
        providers=providers,
        frontdoor=frontdoor,
        webhooks=webhooks,
        sla=sla,
        catalog=catalog,
        catalog_sources=sources,
        kpis=kpis,
    )


def _part(path: Path, what: str, parse: Callable[[], T]) -> T:
    """What `parse` makes of its part of the file at `path`; its refusal as a SettingsError."""
    try:
        return parse()
    except (ValueError, LookupError) as exc:  # ConfigError, msgspec's ValidationError...
        message = " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        if str(path) not in message:  # named: one of `what`'s tables, or a table in it
            named = any(f"[{table.strip('[]')}" in message for table in what.split(" / "))
            message = f"{path}: {message}" if named else f"{path}: {what}: {message}"
        raise SettingsError(message) from None
    except (TypeError, AttributeError) as exc:  # a table where a list was due, or the reverse
        raise SettingsError(f"{path}: {what} is not shaped as documented ({exc})") from None


class _Holder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _held() -> Iterator[list[logging.LogRecord]]:
    """What is logged meanwhile, kept (not printed: logging is not set up yet, and a
    refused configuration gets one line, its error)."""
    holder, root = _Holder(), logging.getLogger()
    root.addHandler(holder)
    try:
        yield holder.records
    finally:
        root.removeHandler(holder)


def check_document(env: Mapping[str, str]) -> None:
    """The file is there (where `LIVEBRIDGE_CONFIG` names it), readable TOML, and has no
    top-level key but the known ones: what a command reading one part of it checks first."""
    path = config_path(env)
    _known(path, _document(path, required=bool(env.get("LIVEBRIDGE_CONFIG"))))


def _known(path: Path, document: dict[str, Any] | None) -> None:
    unknown = sorted(set(document or {}) - TABLES)
    if unknown:
        raise SettingsError(
            f"{path}: unknown key {', '.join(map(repr, unknown))} at the top level "
            f"(known: {', '.join(sorted(TABLES))})"
        )


def _document(path: Path, *, required: bool) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if required:
            raise SettingsError(
                f"{path}: no such file (named by LIVEBRIDGE_CONFIG); "
                "copy infra/livebridge.example.toml there, or fix the variable"
            ) from None
        return None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _adapters(providers: ProvidersConfig) -> None:
    """Make each provider's adapter once, as the edge will: its dialect must exist and
    accept the provider's secret and options. Nothing runs on this context."""
    context = EdgeContext(ledger=AsyncLedger(_no_ledger), sessions=MemorySessionStore())
    for provider in providers.providers:
        load_adapter(provider, context)


_SLA = (
    "[sla.provider.{id}]: no [[provider]] has id {id!r} (ids: {known}); its service levels "
    "would never be judged"
)
_SOURCE = (
    "provider = {id!r}: no [[provider]] has that id (ids: {known}); its tables would be "
    "listed nowhere"
)
_PROFILE = (
    "[[limits.profile]] provider = {id!r}: no [[provider]] has that id (ids: {known}); "
    "its limits would bind no bet"
)


def _named(providers: ProvidersConfig, unused: str, named: Iterable[str]) -> None:
    """Each provider id `named` (empty: any provider) is a `[[provider]]`'s: a misspelt one
    would be accepted and then do nothing, without a word. `unused` says what, as a format
    of `id` and `known`."""
    known = sorted(p.id for p in providers.providers)
    for provider in named:
        if provider and provider not in known:
            raise ValueError(unused.format(id=provider, known=", ".join(known) or "none"))


def _no_ledger() -> Any:
    raise RuntimeError("the configuration check has no ledger")
