"""Mount the provider wallet dialects on an aiohttp application.

The composition root calls `setup_edge` once::

    app = web.Application()
    setup_edge(app, ledger=ledger, providers=load_providers(), nats_url=nats_url)

Every provider in the configuration gets its dialect's paths at
`/wallet/<dialect>/<provider-id>/<path>`; the default provider of a dialect (the only one,
or the one marked `default = true`) is also served at `/wallet/<dialect>/<path>`, e.g.
`/wallet/hub88/transaction/bet`, `/wallet/evolution/debit?authToken=...`,
`/wallet/pragmatic/bet.html`.

Sessions: pass a `SessionStore`, or `nats_url` to open the JetStream KV store in the app's
lifecycle (`cleanup_ctx`, appended after the caller's own), or neither for an in-process
store (single process only). `ledger` and `nats_url` may be zero-argument callables, read
on first use: routes must be mounted before the app starts, while the ledger and the NATS
URL are often built in earlier `cleanup_ctx`s, e.g.
`setup_edge(app, ledger=lambda: app[LEDGER], providers=..., nats_url=lambda: app[NATS_URL])`.
The ledger executor is closed with the app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from collections.abc import Callable

from aiohttp import web

from services.edge.adapters.base import EdgeContext
from services.edge.adapters.base import EdgeRequest
from services.edge.adapters.base import EdgeResponse
from services.edge.adapters.base import Endpoint
from services.edge.adapters.base import Rejection
from services.edge.bounded import read_bounded
from services.edge.config import ProvidersConfig
from services.edge.gateway import Gateway
from services.edge.gateway import ProviderGate
from services.edge.natslink import bucket_ctx
from services.edge.natslink import links
from services.edge.ports import AsyncLedger
from services.edge.ports import LedgerPort
from services.edge.security import caller_address
from services.edge.security import forwarded_chain
from services.edge.sessions import KvSessionStore
from services.edge.sessions import MemorySessionStore
from services.edge.sessions import SessionStore

log = logging.getLogger(__name__)

GATEWAY_KEY = web.AppKey("edge_gateway", Gateway)
LEDGER_KEY = web.AppKey("edge_ledger", AsyncLedger)


def setup_edge(
    app: web.Application,
    *,
    ledger: LedgerPort | Callable[[], LedgerPort],
    providers: ProvidersConfig,
    sessions: SessionStore | None = None,
    nats_url: str | Callable[[], str] | None = None,
    session_bucket: str = "livebridge_sessions",
    replicas: int = 1,
) -> Gateway:
    """Mount every configured provider's dialect routes; returns the gateway (for tests).

    `replicas`: the session bucket's, when this call creates it (3 on a cluster)."""
    async_ledger = AsyncLedger(ledger)
    store: SessionStore
    if sessions is not None:
        store = sessions
    elif nats_url is not None:
        kv_store = KvSessionStore()  # its bucket is opened as the app starts
        store = kv_store
        app.cleanup_ctx.append(
            bucket_ctx(kv_store, nats_url, "livebridge-edge", session_bucket, replicas, links(app))
        )
    else:
        log.warning("edge sessions are in process memory: use one process only")
        store = MemorySessionStore()
    gateway = Gateway(providers, EdgeContext(ledger=async_ledger, sessions=store))
    app[GATEWAY_KEY] = gateway
    app[LEDGER_KEY] = async_ledger
    app.on_cleanup.append(_close_ledger)
    for gate in gateway.gates.values():
        provider = gate.provider
        default = providers.default_for(provider.dialect)
        prefixes = [f"/wallet/{provider.dialect}/{provider.id}"]
        if default is not None and default.id == provider.id:
            prefixes.append(f"/wallet/{provider.dialect}")
        for endpoint in gate.endpoints.values():
            handler = _http_handler(gate, endpoint)
            for prefix in prefixes:
                app.router.add_route(endpoint.method, f"{prefix}/{endpoint.path}", handler)
    return gateway


async def _close_ledger(app: web.Application) -> None:
    app[LEDGER_KEY].close()


class _Unreadable(Exception):
    """The body could not be read: the caller hung up, or sent a broken chunked or
    compressed payload."""


async def _read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it exceeds `limit` bytes (read no further than that).

    Raises `_Unreadable` for any failure while reading (aiohttp raises
    `RequestPayloadError`, `ConnectionResetError`, `PayloadAccessError`, ...).
    """
    try:
        return await read_bounded(request.content, limit)
    except Exception as exc:
        raise _Unreadable(f"{type(exc).__name__}: {exc}") from exc


def _http_handler(
    gate: ProviderGate, endpoint: Endpoint
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    limit = gate.provider.max_body_bytes

    async def answer(request: web.Request) -> EdgeResponse:
        remote = caller_address(
            request.remote, forwarded_chain(request), gate.provider.trusted_proxies
        )
        early = gate.screen(endpoint, remote, request.content_length)
        if early is not None:
            return early
        try:
            body = await _read_bounded(request, limit)
        except _Unreadable as exc:
            log.info("provider %s %s: body unreadable (%s)", gate.provider.id, endpoint.label, exc)
            return gate.reject(Rejection.MALFORMED, endpoint)
        if body is None:
            return gate.reject(Rejection.BODY_TOO_LARGE, endpoint)
        edge_request = EdgeRequest(
            method=request.method,
            path=endpoint.path,
            body=body,
            query=request.query,
            headers=request.headers,
            remote=remote or "",
        )
        return await gate.run(endpoint, edge_request)

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            early = await answer(request)
        except Exception:
            # `gate.run` already turns handler failures into the dialect's error; this is
            # the last guard for everything around it, so nothing ever answers a 500.
            log.exception("provider %s %s: edge failure", gate.provider.id, endpoint.label)
            early = gate.reject(Rejection.INTERNAL, endpoint)
        response = web.Response(
            status=early.status, body=early.body, content_type=early.content_type
        )
        if request.keep_alive:
            # Evolution's certification looks for the header, although HTTP/1.1 implies it.
            response.headers["Connection"] = "keep-alive"
        return response

    return handle
