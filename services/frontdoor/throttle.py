"""New sessions throttled per provider, while the ops playbook holds it degraded.

`POST /platform/v1/sessions` asks `SessionThrottle.admit(provider)` before it opens
anything: a provider not throttled is always admitted; a throttled one admits `rate` new
sessions a second (0: none) and refuses the rest with `LBRG-503 RETRY`, naming the reason
the playbook gave. Sessions already open are untouched.
"""

from __future__ import annotations

from aiohttp import web

from services.edge.security import TokenBucket


class SessionThrottle:
    def __init__(self) -> None:
        self._throttled: dict[str, tuple[TokenBucket | None, str]] = {}

    def throttle(self, provider: str, rate: float, reason: str) -> None:
        bucket = TokenBucket(rate, rate) if rate > 0 else None
        self._throttled[provider] = (bucket, reason)

    def release(self, provider: str) -> None:
        self._throttled.pop(provider, None)

    def throttled(self, provider: str) -> bool:
        return provider in self._throttled

    def admit(self, provider: str) -> str | None:
        """None when a new session may open; otherwise why not."""
        found = self._throttled.get(provider)
        if found is None:
            return None
        bucket, reason = found
        if bucket is not None and bucket.take():
            return None
        return f"new sessions at provider {provider!r} are throttled ({reason}); retry later"


SESSION_THROTTLE = web.AppKey("session_throttle", SessionThrottle)
