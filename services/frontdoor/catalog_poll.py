"""A provider's catalogue endpoint, polled like the pull feed: its tables, and whether it
is up.

Configured per provider in `livebridge.toml`::

    [[catalog.source]]
    provider = "evolution"
    url = "https://studio.example/catalog"   # GET -> {"tables": [<[[table]] fields>]}
    interval_s = 30                           # between polls (default 30)
    down_after = 3                            # failed polls in a row that mark it down

Each answer replaces the provider's tables in the catalogue (in the shape of `[[table]]`,
checked the same way; a table the answer leaves out is gone). After `down_after` failures
in a row (no answer, an error status, a body that is not a catalogue) the provider is
marked down (`TableStatuses.set_provider`, reason `catalog endpoint ...`): its tables are
hidden and bets there refused; the first good answer marks it up again. A provider marked
down by someone else (an operator, an ops playbook) is left down. Failures back off
(`services.edge.feeds.backoff`) up to the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import msgspec
from aiohttp import web

from contracts import bodies
from contracts.urls import fetchable
from services.edge import natslink
from services.edge.bounded import read_bounded
from services.edge.config import ConfigError
from services.edge.config import ProvidersConfig
from services.edge.feeds.backoff import Backoff
from services.edge.feeds.backoff import pause
from services.frontdoor.catalog import Catalog
from services.frontdoor.catalog import TableEntry
from services.frontdoor.catalog import check_entry
from services.frontdoor.tables import TABLE_STATUSES
from services.frontdoor.tables import TableStatuses

log = logging.getLogger(__name__)

REASON = "catalog endpoint"
MAX_ANSWER = 4 * 1024 * 1024
"""The largest catalogue answer read: some 4,000 tables of 1 KiB."""


class CatalogSource(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    provider: str
    url: str
    interval_s: float = 30.0
    down_after: int = 3


class _Answer(msgspec.Struct, frozen=True):
    tables: list[dict[str, object]]


@dataclass
class CatalogBox:
    """The catalogue now: configured tables, with polled providers' tables replaced."""

    current: Catalog


def parse_sources(document: dict[str, object]) -> tuple[CatalogSource, ...]:
    """The `[[catalog.source]]`s, each checked: an interval that is no positive number
    (0 polled the endpoint again as soon as it answered, as fast as it could, forever),
    `down_after` under 1, a URL that is not HTTP, a provider polled twice (two
    pollers replacing each other's tables) are `ConfigError`s."""
    section = document.get("catalog", {})
    raw = section.get("source", []) if isinstance(section, dict) else []
    try:
        sources = tuple(msgspec.convert(raw, list[CatalogSource]))
    except msgspec.ValidationError as exc:
        raise ConfigError(f"[[catalog.source]]: {exc}") from None
    seen: set[str] = set()
    for source in sources:
        where = f"[[catalog.source]] of {source.provider!r}"
        if not (math.isfinite(source.interval_s) and source.interval_s > 0):
            raise ConfigError(f"{where}: interval_s must be a positive number of seconds")
        if source.down_after < 1:
            raise ConfigError(f"{where}: down_after must be at least 1 (failed polls in a row)")
        if not fetchable(source.url):
            raise ConfigError(f"{where}: url must be an http:// or https:// URL with a host")
        if source.provider in seen:
            raise ConfigError(f"{where}: the provider has one catalogue endpoint, not several")
        seen.add(source.provider)
    return sources


async def poll_once(
    http: aiohttp.ClientSession, source: CatalogSource, providers: ProvidersConfig
) -> list[TableEntry]:
    """The provider's tables as its endpoint answers now; raises on any failure."""
    async with http.get(source.url, timeout=aiohttp.ClientTimeout(total=10)) as response:
        response.raise_for_status()
        body = await read_bounded(response.content, MAX_ANSWER)
        if body is None:  # read whole, a runaway answer held the bridge's memory
            raise ConfigError(f"{source.url}: the answer is larger than {MAX_ANSWER} bytes")
        # a body nested too deeply is malformed like any other (a RecursionError killed the poller)
        answer = bodies.decode(body, _Answer)
    entries = []
    for item in answer.tables:
        entry = msgspec.convert({**item, "provider": source.provider}, TableEntry, strict=False)
        entries.append(check_entry(entry, providers, f"{source.url} table {entry.id!r}"))
    return entries


async def follow(
    source: CatalogSource,
    box: CatalogBox,
    statuses: TableStatuses,
    providers: ProvidersConfig,
) -> None:
    backoff = Backoff(initial=min(1.0, source.interval_s), cap=source.interval_s)
    failures, judged = 0, False  # judged: this run of failures has marked the provider (or not)
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                entries = await poll_once(http, source, providers)
            except (aiohttp.ClientError, TimeoutError, msgspec.MsgspecError, ConfigError) as e:
                failures += 1
                backoff_s = backoff.next()
                if failures >= source.down_after and not judged:
                    judged = not statuses.provider_up(source.provider) or await _mark(
                        statuses, source.provider, up=False, reason=f"{REASON} failing: {e}"
                    )
                await pause(backoff_s)
                continue
            failures, judged = 0, False
            backoff.reset()
            box.current = box.current.with_entries(source.provider, entries)
            state = statuses.provider(source.provider)
            if state is not None and not state.up and state.reason.startswith(REASON):
                await _mark(statuses, source.provider, up=True, reason=f"{REASON} answers")
            await pause(source.interval_s)


async def _mark(statuses: TableStatuses, provider: str, *, up: bool, reason: str) -> bool:
    """Mark `provider` up or down; False, told in a warning, when NATS did not take it (the
    next poll tries again: the poller must outlive an outage of the status bucket)."""
    log.warning("%s: marking %s %s", reason, provider, "up" if up else "down")
    try:
        await statuses.set_provider(provider, up=up, reason=reason[:500])
    except natslink.OUTAGES as error:
        log.warning(
            "status of %s not written, NATS did not answer (%r); next poll", provider, error
        )
        return False
    return True


def catalog_poll_ctx(
    box: CatalogBox, sources: tuple[CatalogSource, ...], providers: ProvidersConfig
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context that polls every source (after `TABLE_STATUSES`)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(follow(s, box, app[TABLE_STATUSES], providers), name=s.url)
            for s in sources
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return ctx
