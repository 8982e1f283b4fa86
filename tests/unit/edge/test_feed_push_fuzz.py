"""Hostile pushes to `/feed/<provider>`: refused in the canonical error form, nothing recorded.

The handler is called with mocked requests (no socket): random bodies, forged, missing or
wrong-secret signatures, events of another provider, seq 0 and oversized bodies.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contracts import feeds
from services.edge.feeds.cursors import MemoryCursorStore
from services.edge.feeds.processor import FeedProcessor
from services.edge.feeds.push import PushFeed
from services.edge.feeds.push import push_handler
from tests.unit.edge.support.feed_events import RecordingSink
from tests.unit.edge.support.feed_events import round_events
from tests.unit.edge.support.feed_push import send
from tests.unit.edge.support.hostile_requests import JSON

SECRET = "feed-TEST-ONLY-secret"
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def push(
    body: bytes, signature: str | None, *, max_body: int = 4096
) -> tuple[int, Any, RecordingSink]:
    sink = RecordingSink()
    processor = FeedProcessor("studio", sink, MemoryCursorStore())
    handler = push_handler({"studio": PushFeed(SECRET, processor)}, max_body=max_body)
    headers = {} if signature is None else {feeds.SIGNATURE_HEADER: signature}
    status, answer = asyncio.run(send(handler, body, headers))
    return status, answer, sink


def refused(status: int, answer: Any, sink: RecordingSink, code: str) -> None:
    assert answer["error"] == f"LBRG-{status} {code}", answer
    assert answer["message"]
    assert sink.events == []


@FUZZ
@given(st.one_of(st.binary(max_size=400), JSON.map(msgspec.json.encode)))
def test_random_signed_bodies_are_malformed(body: bytes) -> None:
    status, answer, sink = push(body, feeds.sign(body, SECRET))
    if status == 200:  # `{"events": []}` is a valid, empty batch
        assert answer["accepted"] == 0 and sink.events == []
        return
    assert status == 400
    refused(status, answer, sink, "MALFORMED_FEED")


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=80), st.text(min_size=1).map(lambda s: s + "x")))
def test_forged_missing_or_wrong_secret_signatures_are_refused(forgery: str | None) -> None:
    body = feeds.encoder.encode(feeds.FeedBatch(events=round_events("studio", "r1")))
    for signature in (forgery, None if forgery is None else feeds.sign(body, forgery)):
        status, answer, sink = push(body, signature)
        assert status == 401
        refused(status, answer, sink, "INVALID_SIGNATURE")


def test_events_of_another_provider_or_without_a_seq_refuse_the_whole_batch() -> None:
    mine = round_events("studio", "r1")
    for intruder in (
        round_events("someone-else", "r1")[1],
        msgspec.structs.replace(round_events("studio", "r2")[0], seq=0),
    ):
        body = feeds.encoder.encode(feeds.FeedBatch(events=[*mine, intruder]))
        status, answer, sink = push(body, feeds.sign(body, SECRET))
        assert status == 400
        refused(status, answer, sink, "MALFORMED_FEED")


def test_an_oversized_batch_is_refused_before_its_signature_is_checked() -> None:
    body = feeds.encoder.encode(feeds.FeedBatch(events=round_events("studio", "r1", cards=200)))
    status, answer, sink = push(body, feeds.sign(body, SECRET), max_body=1024)
    assert status == 413
    refused(status, answer, sink, "BODY_TOO_LARGE")


def test_a_well_signed_batch_is_recorded_in_order() -> None:
    events = round_events("studio", "r1")
    body = feeds.encoder.encode(feeds.FeedBatch(events=list(reversed(events))))
    status, answer, sink = push(body, feeds.sign(body, SECRET))
    assert status == 200 and answer == {"accepted": 6, "duplicates": 0, "held": 0}
    assert sink.seqs("r1") == [1, 2, 3, 4, 5, 6]
