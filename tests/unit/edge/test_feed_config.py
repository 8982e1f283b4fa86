"""Feed options in the provider configuration: read once, refused early when incomplete."""

from __future__ import annotations

import pytest

from services.edge.config import ConfigError
from services.edge.config import OptionValue
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.edge.feeds.setup import FeedConfig
from services.edge.feeds.setup import feed_configs


def providers(**options: OptionValue) -> ProvidersConfig:
    return ProvidersConfig(
        (
            ProviderConfig(
                id="evo", dialect="evolution", currencies=("EUR",), secret=b"x", options=options
            ),
            ProviderConfig(id="quiet", dialect="hub88", currencies=("EUR",), secret=b"x"),
        )
    )


def test_a_push_feed_takes_its_secret_from_the_environment() -> None:
    found = feed_configs(providers(feed="push", feed_secret_env="S"), {"S": "s3cret"})
    assert found == [FeedConfig(provider="evo", mode="push", secret="s3cret")]


def test_a_pull_feed_needs_a_url_and_reads_its_token_and_timings() -> None:
    found = feed_configs(
        providers(
            feed="pull",
            feed_url="https://studio.example/feed",
            feed_secret_env="S",
            feed_token_env="T",
            feed_poll_s=0.5,
            feed_gap_timeout_s=2,
        ),
        {"S": "s", "T": "t"},
    )
    assert found == [
        FeedConfig(
            provider="evo",
            mode="pull",
            secret="s",
            url="https://studio.example/feed",
            token="t",
            poll_s=0.5,
            gap_timeout_s=2.0,
        )
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"feed": "carrier-pigeon"}, "must be one of"),
        ({"feed": "pull", "feed_secret_env": "S"}, "needs feed_url"),
        # URLs no poll or connect could reach, once accepted, then failing for good
        ({"feed": "pull", "feed_secret_env": "S", "feed_url": "https://"}, "with a host"),
        ({"feed": "socket", "feed_url": "wss://studio example/ws"}, "with a host"),
        ({"feed": "socket", "feed_url": "wss://studio.example:99999/ws"}, "with a host"),
        (
            {"feed": "socket", "feed_url": "wss://a.example/ws", "feed_url_alternate": "https:/"},
            "alternate must be",
        ),
        ({"feed": "push"}, "set feed_secret_env or feed_secret_file"),
        ({"feed": "push", "feed_secret_env": "MISSING"}, "MISSING is not set"),
        ({"feed": "push", "feed_secret_env": "BLANK"}, "BLANK is not set"),
        ({"feed": "push", "feed_secret_file": "/dev/null"}, "/dev/null is empty"),
        ({"feed": "push", "feed_secret_env": "S", "feed_poll_s": -1}, "positive number"),
    ],
)
def test_an_incomplete_feed_configuration_is_refused_at_start(
    options: dict[str, OptionValue], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        feed_configs(providers(**options), {"S": "s", "BLANK": "  "})
