"""What the pull and the socket transports share: one provider's feed, fetched by us.

Both read from the provider's URL (or, while the playbook has switched the feed, its
alternate), send the provider's token, back off between failures, hand events to the
provider's `FeedProcessor` and keep their cursor under `cursor.<provider>.<transport>`.
"""

from __future__ import annotations

import logging
from typing import ClassVar
from typing import TypedDict
from typing import Unpack

import aiohttp
import msgspec

from contracts import feeds
from services.edge.feeds.backoff import Backoff
from services.edge.feeds.processor import FeedProcessor
from services.edge.health import FeedEndpoints
from services.edge.health import ProviderHealth


class FeedOptions(TypedDict, total=False):
    """The settings both transports take (see `FetchedFeed`)."""

    token: str
    backoff: Backoff | None
    alternate_url: str
    health: ProviderHealth | None


class FetchedFeed:
    transport: ClassVar[str]
    """The cursor key's last part: `pull`, `socket`."""

    def __init__(
        self,
        processor: FeedProcessor,
        session: aiohttp.ClientSession,
        url: str,
        **options: Unpack[FeedOptions],
    ) -> None:
        self.processor = processor
        self.session = session
        self.health = options.get("health")
        self.endpoints = FeedEndpoints(url, options.get("alternate_url", ""), self.health)
        self.token = options.get("token", "")
        self.backoff = options.get("backoff") or Backoff()
        self.rejected = 0
        self.cursor_key = f"cursor.{processor.provider}.{self.transport}"

    @property
    def url(self) -> str:
        """Where the next fetch goes: the alternate while the playbook switched to it."""
        return self.endpoints.current

    async def take(self, raws: list[msgspec.Raw], log: logging.Logger, name: str) -> None:
        """Hand a fetched batch's events to the processor. Event by event: one that can
        never be taken is counted, logged on `log` as skipped by the `name` feed, and must
        not hold up the feed."""
        decoded, undecodable = feeds.read_events(raws)
        events, problems = self.processor.partition(decoded)
        for problem in [*undecodable, *problems]:
            self.rejected += 1
            log.error("%s feed %s: event skipped: %s", name, self.url, problem)
        await self.processor.accept(events)
