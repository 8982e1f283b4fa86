"""The push feed's guards and failures: the allowlist behind a trusted proxy, and a feed
position store (JetStream KV) that fails; every answer is in the canonical `LBRG-` form."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from contracts import feeds
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.config import networks
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import MAX_SEQ
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.push import PushFeed
from services.edge.feeds.push import push_handler
from services.edge.feeds.setup import setup_feeds
from services.edge.security import IpAllowlist
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events
from tests.unit.edge.support.feed_push import SEGMENT
from tests.unit.edge.support.feed_push import send

SECRET = "feed-TEST-ONLY-secret"


class FlakyCursors(MemoryCursorStore):
    """A position store that fails its next `get` or `put`, like a KV timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_get = 0
        self.fail_put = 0

    async def get(self, key: str) -> str | None:
        if self.fail_get:
            self.fail_get -= 1
            raise TimeoutError("nats: timeout")
        return await super().get(key)

    async def put(self, key: str, value: str) -> None:
        if self.fail_put:
            self.fail_put -= 1
            raise ConnectionError("nats: connection closed")
        await super().put(key, value)


def signed(round_id: str = "r1") -> tuple[bytes, dict[str, str]]:
    body = feeds.encoder.encode(feeds.FeedBatch(events=round_events("studio", round_id)))
    return body, {feeds.SIGNATURE_HEADER: feeds.sign(body, SECRET)}


async def test_a_failing_position_store_is_503_and_the_resend_records_each_event_once() -> None:
    sink, cursors = RecordingSink(), FlakyCursors()
    handler = push_handler({"studio": PushFeed(SECRET, FeedProcessor("studio", sink, cursors))})
    body, headers = signed()
    cursors.fail_get = 1
    status, answer = await send(handler, body, headers)
    assert (status, answer["error"]) == (503, "LBRG-503 FEED_UNAVAILABLE")
    assert sink.events == [], "nothing is recorded before its round's position is known"
    cursors.fail_put = 1
    status, answer = await send(handler, body, headers)
    assert (status, answer["error"]) == (503, "LBRG-503 FEED_UNAVAILABLE")
    status, answer = await send(handler, body, headers)
    assert status == 200, answer
    assert sink.seqs("r1") == [1, 2, 3, 4, 5, 6]


def gated(trusted: list[str]) -> Any:
    processor = FeedProcessor("studio", RecordingSink(), MemoryCursorStore())
    feed = PushFeed(
        SECRET,
        processor,
        allowlist=IpAllowlist(networks(["203.0.113.0/24"])),
        trusted_proxies=networks(trusted),
    )
    return push_handler({"studio": feed})


async def test_behind_a_trusted_proxy_the_allowlist_sees_the_forwarded_caller() -> None:
    handler = gated(["10.0.0.5"])
    body, headers = signed()
    forwarded = {**headers, "X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    status, answer = await send(handler, body, forwarded, remote="10.0.0.5")
    assert status == 200, answer
    outsider = {**headers, "X-Forwarded-For": "203.0.113.9, 198.51.100.1"}
    status, answer = await send(handler, body, outsider, remote="10.0.0.5")
    assert (status, answer["error"]) == (403, "LBRG-403 IP_NOT_ALLOWED")


async def test_a_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    handler = gated(["10.0.0.5"])
    body, headers = signed()
    forged = {**headers, "X-Forwarded-For": "203.0.113.9"}
    status, answer = await send(handler, body, forged, remote="198.51.100.7")
    assert (status, answer["error"]) == (403, "LBRG-403 IP_NOT_ALLOWED")


async def test_setup_feeds_hands_the_providers_trusted_proxies_to_its_push_route() -> None:
    app = web.Application()
    provider = ProviderConfig(
        id="studio",
        dialect="evolution",
        currencies=("EUR",),
        secret=b"x",
        allow_ips=networks(["203.0.113.0/24"]),
        trusted_proxies=networks(["10.0.0.5"]),
        options={"feed": "push", "feed_secret_env": "S"},
    )
    setup_feeds(
        app,
        sink=RecordingSink(),
        providers=ProvidersConfig((provider,)),
        cursors=MemoryCursorStore(),
        environ={"S": SECRET},
    )
    (route,) = [r for r in app.router.routes() if r.resource and "feed" in r.resource.canonical]
    body, headers = signed()
    forwarded = {**headers, "X-Forwarded-For": "203.0.113.9"}
    status, answer = await send(route.handler, body, forwarded, remote="10.0.0.5")
    assert status == 200, answer


async def test_a_push_nested_too_deeply_is_a_malformed_feed_not_a_500() -> None:
    sink = RecordingSink()
    handler = push_handler(
        {"studio": PushFeed(SECRET, FeedProcessor("studio", sink, MemoryCursorStore()))}
    )
    for body in (b"[" * 5000 + b"]" * 5000, b'{"zz":' + b"[" * 5000 + b"]" * 5000 + b"}"):
        status, answer = await send(
            handler, body, {feeds.SIGNATURE_HEADER: feeds.sign(body, SECRET)}
        )
        assert (status, answer["error"]) == (400, "LBRG-400 MALFORMED_FEED"), answer
    body, headers = signed()
    status, answer = await send(handler, body, headers)
    assert status == 200, answer


async def test_a_round_id_outside_the_id_policy_is_a_malformed_feed_and_later_pushes_go_on() -> (
    None
):
    sink = RecordingSink()
    handler = push_handler(
        {"studio": PushFeed(SECRET, FeedProcessor("studio", sink, MemoryCursorStore()))}
    )
    for round_id in ("r" * 3000, "r\u00001"):
        body, headers = signed(round_id)
        status, answer = await send(handler, body, headers)
        assert (status, answer["error"]) == (400, "LBRG-400 MALFORMED_FEED"), answer
        assert "round_id" in answer["message"]
    assert sink.events == []
    body, headers = signed("r2")
    status, answer = await send(handler, body, headers)
    assert status == 200, answer
    assert sink.seqs("r2") == [1, 2, 3, 4, 5, 6]


async def test_a_seq_far_beyond_any_round_is_a_malformed_feed_not_a_gap_of_millions() -> None:
    """Held, it would wait for every seq before it; declared a gap, it would list them all."""
    sink = RecordingSink()
    handler = push_handler(
        {"studio": PushFeed(SECRET, FeedProcessor("studio", sink, MemoryCursorStore()))}
    )
    first, *_ = round_events("studio", "r1")
    for seq in (MAX_SEQ + 1, 2**62):
        far = msgspec.structs.replace(first, seq=seq)
        body = feeds.encoder.encode(feeds.FeedBatch(events=[first, far]))
        status, answer = await send(
            handler, body, {feeds.SIGNATURE_HEADER: feeds.sign(body, SECRET)}
        )
        assert (status, answer["error"]) == (400, "LBRG-400 MALFORMED_FEED"), answer
        assert f"seq {seq} must be between 1 and {MAX_SEQ}" in answer["message"]
    assert sink.events == []
    body, headers = signed()
    status, answer = await send(handler, body, headers)
    assert status == 200, answer
    assert sink.seqs("r1") == [1, 2, 3, 4, 5, 6]


async def test_a_batch_that_arrives_in_several_segments_is_read_whole() -> None:
    # The handler read the body with one `read(max_body + 1)`, which hands over what has
    # arrived: a well-signed batch longer than a TCP segment was refused 401
    # INVALID_SIGNATURE (the first segment's signature), and refused again on every resend.
    sink = RecordingSink()
    handler = push_handler(
        {"studio": PushFeed(SECRET, FeedProcessor("studio", sink, MemoryCursorStore()))}
    )
    events = [e for r in range(20) for e in round_events("studio", f"r{r}")]
    body = feeds.encoder.encode(feeds.FeedBatch(events=events))
    assert len(body) > 10 * SEGMENT
    status, answer = await send(handler, body, {feeds.SIGNATURE_HEADER: feeds.sign(body, SECRET)})
    assert status == 200, answer
    assert answer["accepted"] == len(events) == len(sink.events)
