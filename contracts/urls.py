"""Whether a configured URL can be fetched at all: checked when the configuration is read,
since a client refuses such a URL only at its first request, then at every retry."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

HTTP = ("http", "https")


def fetchable(url: str, schemes: Collection[str] = HTTP) -> bool:
    """`url` has one of `schemes` (any case), a host with no blank in it, and, if it names
    one, a port that is one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port out of range, or no number, raises)
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme in schemes and host != "" and not any(c.isspace() for c in host)
