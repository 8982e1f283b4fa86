"""One check of a configured URL for the webhooks, the catalogue sources and the feeds."""

from __future__ import annotations

import pytest

from contracts.urls import fetchable


@pytest.mark.parametrize(
    "url",
    ["https://studio.test/tables", "HTTPS://studio.test/x", "http://10.0.0.1:8080/hook"],
)
def test_an_http_url_with_a_host_is_fetchable(url: str) -> None:
    assert fetchable(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "studio.test/tables",
        "ftp://studio.test/x",
        "http://",
        "https:///catalog",
        "https://studio test/x",
        "https://studio.test:99999/x",
        "https://studio.test:port/x",
        "wss://studio.test/ws",
    ],
)
def test_anything_else_is_not(url: str) -> None:
    assert not fetchable(url)


def test_the_feeds_name_their_own_schemes() -> None:
    assert fetchable("wss://studio.test/ws", ("http", "https", "ws", "wss"))
