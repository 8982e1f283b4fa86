"""Edge guards that do not depend on a dialect: IP allowlists, rate limits, secret
comparison, request-timestamp windows."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable
from collections.abc import Sequence

from aiohttp import web

from services.edge.config import IpNetwork


def same_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time equality for tokens, hashes and signatures given as text or bytes."""
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def forwarded_chain(request: web.BaseRequest) -> str:
    """Every `X-Forwarded-For` line of a request, in order, as one list: a proxy may add a
    line of its own after the client's instead of extending it (HAProxy does), so the last
    hop is in the last line, and the first line may be the client's forgery."""
    return ", ".join(request.headers.getall("X-Forwarded-For", ()))


def caller_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[IpNetwork]
) -> str | None:
    """The caller's address: the peer, or, when the peer is a trusted proxy, the last hop
    it appended to `X-Forwarded-For` (earlier hops are the client's to forge)."""
    if not peer or not forwarded_for or not trusted_proxies:
        return peer
    if not IpAllowlist(trusted_proxies).allows(peer):
        return peer
    last = forwarded_for.split(",")[-1].strip()
    return last or None


class IpAllowlist:
    def __init__(self, networks: Sequence[IpNetwork]) -> None:
        self.networks = tuple(networks)

    def allows(self, remote: str | None) -> bool:
        if not remote:
            return False
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)


class TokenBucket:
    """`rate` requests per second sustained, bursts up to `burst`; not thread-safe (one loop)."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def fresh_timestamp(timestamp_ms: int, now_s: float, max_skew_s: float) -> bool:
    """True when a request's own timestamp (ms since the epoch) is within `max_skew_s`
    of `now_s`, either way (clocks drift both ways); always True when the window is off
    (`max_skew_s` 0). A missing (0) timestamp is stale once a window is on."""
    if max_skew_s <= 0:
        return True
    try:
        return abs(timestamp_ms / 1000 - now_s) <= max_skew_s
    except OverflowError:  # an integer too large for a float is no timestamp
        return False
