"""A `[[webhooks]]` table that could never deliver is refused as the config is read."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from services.platform.service import parse_endpoints

CONFIG = Path("livebridge.toml")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lanes", 0),  # no lane: nothing is ever delivered
        ("lanes", -3),
        ("lanes", 80_000_000),  # a task and a queue each, made at start: the memory gone
        ("max_attempts", 0),  # every settlement parked without one attempt
        ("timeout", 0),
        ("backoff_base", -1.0),
        ("backoff_max", -1.0),
        ("timeout", float("inf")),  # a receiver that never answers holds its lane forever
        ("backoff_base", float("inf")),
        ("backoff_max", float("inf")),
    ],
)
def test_an_endpoint_that_could_never_deliver_is_refused_naming_the_file_and_field(
    field: str, value: Any
) -> None:
    table = {"name": "platform", "url": "http://x", "secret": "k", field: value}
    with pytest.raises(ValueError, match=rf"livebridge.toml: webhook 'platform': .*{field}"):
        parse_endpoints([table], CONFIG, {})


def test_the_smallest_working_endpoint_is_taken() -> None:
    table = {"name": "p", "url": "http://x", "secret": "k", "lanes": 1, "max_attempts": 1}
    (endpoint,) = parse_endpoints([{**table, "timeout": 0.1, "backoff_base": 0}], CONFIG, {})
    assert endpoint.lanes == endpoint.max_attempts == 1


def test_two_endpoints_of_one_name_are_refused_since_one_would_never_be_served() -> None:
    first = {"name": "platform", "url": "http://a.example/hook", "secret": "k"}
    second = {**first, "url": "http://b.example/hook"}
    with pytest.raises(ValueError, match=r"livebridge.toml: two webhooks are named 'platform'"):
        parse_endpoints([first, second], CONFIG, {})


@pytest.mark.parametrize(
    "url", ["platform.example/hook", "ftp://platform.example/hook", "", "http://", "https:///x"]
)
def test_an_endpoint_url_that_is_no_http_url_is_refused_before_any_settlement(url: str) -> None:
    table = {"name": "platform", "url": url, "secret": "k"}
    with pytest.raises(ValueError, match=r"livebridge.toml: webhook 'platform': .*http://"):
        parse_endpoints([table], CONFIG, {})


def test_the_backoff_of_an_endpoint_retrying_past_a_thousand_attempts_stays_at_its_cap() -> None:
    table = {"name": "p", "url": "http://x", "secret": "k", "max_attempts": 5000}
    (endpoint,) = parse_endpoints([table], CONFIG, {})
    waits = [endpoint.backoff(attempt, random.Random(1)) for attempt in (1023, 1024, 4998)]
    assert all(300.0 <= w <= 600.0 for w in waits)


def test_an_endpoint_name_too_long_for_its_consumer_is_refused() -> None:
    """`webhook_<name>` names its JetStream consumer, which takes 255 characters at most: a
    longer name was accepted and its delivery failed to start every second, for good."""
    table = {"name": "p" * 250, "url": "http://x", "secret": "k"}
    with pytest.raises(ValueError, match="1 to 64 letters"):
        parse_endpoints([table], CONFIG, {})
    (taken,) = parse_endpoints([{**table, "name": "p" * 64}], CONFIG, {})
    assert len(taken.name) == 64
