"""Push transport: providers POST signed `FeedBatch`es to `/feed/<provider>`.

The signature (`X-Feed-Signature`, hex HMAC-SHA256 of the raw body under the provider's
feed secret) is checked before the body is decoded. Answers, in the canonical
`LBRG-<status> <CODE>` form when refused:

- 200 `FeedAck` (accepted, duplicates, held): safe to resend, duplicates are absorbed;
- 401 INVALID_SIGNATURE, 400 MALFORMED_FEED, 404 UNKNOWN_PROVIDER, 413 BODY_TOO_LARGE,
  403 IP_NOT_ALLOWED: nothing was recorded, resending the same request fails the same way;
- 429 RATE_LIMITED: nothing was recorded; resend later;
- 503 FEED_UNAVAILABLE: the ledger or the feed's position store did not take the events;
  resend later (what was recorded is absorbed as duplicates).

The allowlist sees the caller as the wallet routes do: the peer, or the last
`X-Forwarded-For` hop when the peer is one of the provider's `trusted_proxies`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec
from aiohttp import web

from contracts import bodies
from contracts import feeds
from services.edge.bounded import read_bounded
from services.edge.config import IpNetwork
from services.edge.feeds.processor import BadEvent
from services.edge.feeds.processor import DeliveryFailed
from services.edge.feeds.processor import FeedProcessor
from services.edge.security import IpAllowlist
from services.edge.security import TokenBucket
from services.edge.security import caller_address
from services.edge.security import forwarded_chain

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class PushFeed:
    """One provider that pushes: its feed secret, the processor its events go to, and the
    provider's IP allowlist and rate limit (None: not checked, for tests). Behind a load
    balancer, `trusted_proxies` are the peers whose last `X-Forwarded-For` hop names the
    caller, as for the wallet routes."""

    secret: str
    processor: FeedProcessor
    allowlist: IpAllowlist | None = None
    limiter: TokenBucket | None = None
    trusted_proxies: tuple[IpNetwork, ...] = ()


def error(status: int, code: str, message: str) -> web.Response:
    body = feeds.encoder.encode(feeds.FeedError(error=f"LBRG-{status} {code}", message=message))
    return web.Response(status=status, body=body, content_type="application/json")


def push_handler(
    providers: Mapping[str, PushFeed], *, max_body: int = MAX_BODY
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        feed = providers.get(provider)
        if feed is None:
            return error(404, "UNKNOWN_PROVIDER", f"no push feed is configured for {provider!r}")
        if feed.allowlist is not None:
            caller = caller_address(request.remote, forwarded_chain(request), feed.trusted_proxies)
            if not feed.allowlist.allows(caller):
                return error(403, "IP_NOT_ALLOWED", f"{caller} may not push for {provider!r}")
        if feed.limiter is not None and not feed.limiter.take():
            return error(429, "RATE_LIMITED", "too many feed pushes; slow down and resend")
        if request.content_length is not None and request.content_length > max_body:
            return error(413, "BODY_TOO_LARGE", f"a feed batch is at most {max_body} bytes")
        try:
            body = await read_bounded(request.content, max_body)
        except Exception as exc:  # RequestPayloadError, ConnectionResetError, ...
            return error(400, "MALFORMED_FEED", f"could not read the body: {exc}")
        if body is None:
            return error(413, "BODY_TOO_LARGE", f"a feed batch is at most {max_body} bytes")
        if not feeds.verify(body, feed.secret, request.headers.get(feeds.SIGNATURE_HEADER)):
            return error(
                401,
                "INVALID_SIGNATURE",
                f"{feeds.SIGNATURE_HEADER} must be the hex HMAC-SHA256 of the body under "
                f"the feed secret of {provider!r}",
            )
        try:
            batch = bodies.decode_with(feeds.batch_decoder, body)
        except msgspec.DecodeError as exc:
            return error(400, "MALFORMED_FEED", f"not a feed batch: {exc}")
        try:
            accepted = await feed.processor.accept(batch.events)
        except BadEvent as exc:
            return error(400, "MALFORMED_FEED", str(exc))
        except DeliveryFailed as exc:
            log.warning("push feed %s: %s", provider, exc)
            return error(503, "FEED_UNAVAILABLE", "events not recorded; resend the batch later")
        except Exception:
            log.exception("push feed %s failed", provider)
            return error(503, "FEED_UNAVAILABLE", "events not recorded; resend the batch later")
        ack = feeds.FeedAck(
            accepted=accepted.recorded, duplicates=accepted.duplicates, held=accepted.held
        )
        return web.Response(body=feeds.encoder.encode(ack), content_type="application/json")

    return handle


def add_push_routes(
    app: web.Application, providers: Mapping[str, PushFeed], *, max_body: int = MAX_BODY
) -> None:
    """Mount `POST /feed/{provider}` on `app`."""
    app.router.add_post("/feed/{provider}", push_handler(providers, max_body=max_body))
