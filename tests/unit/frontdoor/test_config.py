"""Operator keys and player-token settings come from livebridge.toml, secrets from outside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts.api import Scope
from services.edge.config import ConfigError
from services.edge.config import ProviderConfig
from services.edge.config import ProvidersConfig
from services.frontdoor.auth import OperatorKeys
from services.frontdoor.catalog import parse_catalog
from services.frontdoor.catalog_poll import parse_sources
from services.frontdoor.config import load_frontdoor
from services.frontdoor.config import parse_frontdoor
from services.frontdoor.openapi import error_table

SECRET = "s3cret-0123456789abcdefghijkl"
ENV = {"K1": SECRET, "K2": SECRET + "-next", "TOKENS": "t" * 40}


def operator(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"operator": [{"id": "casino", "key": list(keys)}]}


def key(**fields: Any) -> dict[str, Any]:
    return {"id": "k1", "secret_env": "K1", "scopes": ["read"], **fields}


def test_keys_resolve_from_the_environment_and_a_file_and_keep_only_a_digest(
    tmp_path: Path,
) -> None:
    (tmp_path / "k2.key").write_text(ENV["K2"] + "\n")
    config = parse_frontdoor(
        operator(key(), key(id="k2", secret_env=None, secret_file="k2.key", scopes=["admin"])),
        environ=ENV,
        base=tmp_path,
    )
    assert [k.key_id for k in config.keys] == ["k1", "k2"]
    assert SECRET not in repr(config)
    keys = OperatorKeys(config.keys)
    first, second = keys.find(SECRET), keys.find(ENV["K2"])
    assert first is not None and first.allows(Scope.READ) and not first.allows(Scope.CASHIER)
    assert second is not None and second.allows(Scope.CASHIER)
    assert keys.find(SECRET[:-1]) is None and keys.find("") is None


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (operator(key(secret="inline-secret-0123456789abcd")), "never go in the configuration"),
        (operator(key(secret_env="ABSENT")), "ABSENT"),
        (operator(key(scopes=["read", "god"])), "scopes"),
        (operator(key(scopes=[])), "scopes"),
        (operator(key(), key()), "unique"),
        (operator(key(), key(id="k2")), "same secret"),
        (operator(), "at least one"),
        (
            {
                "operator": [
                    {"id": "casino", "key": [key()]},
                    {"id": "casino", "key": [key(secret_env="K2", scopes=["admin"])]},
                ]
            },
            "listed twice: casino",
        ),
        ({"platform": {"player_token_ttl_s": 601}}, "at most 600"),
        ({"platform": {"provider_idle_s": 0}}, "provider_idle_s must be"),
        ({"platform": {"player_token_ttl_s": float("nan")}}, "player_token_ttl_s must be"),
        ({"platform": {"player_token_ttl_s": 0.5}}, "player_token_ttl_s must be"),
        ({"platform": {"provider_idle_s": float("nan")}}, "provider_idle_s must be"),
        ({"platform": {"provider_idle_s": float("inf")}}, "at most 86400"),
        ({"platform": {"provider_idle_s": 1e12}}, "at most 86400"),
    ],
)
def test_a_configuration_that_cannot_be_used_is_refused_at_start(
    document: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_frontdoor(document, environ=ENV)


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 24"):
        parse_frontdoor(operator(key()), environ={"K1": "short"})


def test_no_file_means_no_keys_and_a_broken_file_is_refused(tmp_path: Path) -> None:
    assert load_frontdoor(tmp_path / "absent.toml", environ={}).keys == ()
    broken = tmp_path / "broken.toml"
    broken.write_text("[[operator]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_frontdoor(broken, environ={})


def test_the_player_token_secret_and_lifetimes_are_read() -> None:
    config = parse_frontdoor(
        {
            "platform": {
                "player_token_secret_env": "TOKENS",
                "player_token_ttl_s": 120,
                "provider_idle_s": 900,
            }
        },
        environ=ENV,
    )
    assert config.player_token_secret == ENV["TOKENS"].encode()
    assert (config.player_token_ttl_s, config.provider_idle_s) == (120.0, 900.0)


def test_the_readme_lists_every_lbrg_code_as_the_contract_has_them(repo_root: Path) -> None:
    assert error_table() in (repo_root / "README.md").read_text()


MISTYPED = {
    "platform": (
        {"platform": {"player_token_tll_s": 60}},
        "[platform]",
        "player_token_tll_s",
        "player_token_secret_env, player_token_secret_file, player_token_ttl_s",
    ),
    "operator": (
        {"operator": [{"id": "casino", "key": [key()], "keys": [key(id="k2")]}]},
        "[[operator]] 'casino'",
        "keys",
        "id, key",
    ),
    "operator key": (
        operator(key(scope=["admin"])),
        "[[operator.key]] 'k1' of operator 'casino'",
        "scope",
        "id, secret_env, secret_file, scopes",
    ),
    "limits": ({"limits": {"profiles": []}}, "[limits]", "profiles", "profile, rule"),
    "limits profile": (
        {"limits": {"profile": [{"name": "DEFAULT", "min_bet": "1", "max_bett": "5"}]}},
        "[[limits.profile]] 'DEFAULT'",
        "max_bett",
        "max_bet, max_round, bet_types",
    ),
    "limits rule": (
        {"limits": {"rule": [{"profiles": ["DEFAULT"], "contry": "DE"}]}},
        "[[limits.rule]] #1",
        "contry",
        "profiles, country, currency, kyc_status",
    ),
}


@pytest.mark.parametrize(
    ("document", "where", "mistyped", "known"), MISTYPED.values(), ids=MISTYPED
)
def test_a_mistyped_key_is_refused_naming_its_table_the_key_and_the_known_ones(
    document: dict[str, Any], where: str, mistyped: str, known: str
) -> None:
    """A mistyped key would drop its setting without a word: a rule's `contry` would let
    every country bet under its profiles, a profile's `max_bett` would drop its maximum."""
    with pytest.raises(ConfigError) as refused:
        parse_frontdoor(document, environ=ENV)
    message = str(refused.value)
    assert message.startswith(f"{where}: ") and f"unknown field `{mistyped}`" in message
    assert known in message and "\n" not in message


def test_a_mistyped_catalog_key_is_refused_naming_it_and_the_known_ones() -> None:
    """`bet_sockt_url` would leave players on this server's own socket URL without a word."""
    document = {"catalog": {"bet_sockt_url": "wss://play.example.com/platform/v1/player/socket"}}
    with pytest.raises(ConfigError) as refused:
        parse_catalog(document, ProvidersConfig(()))
    message = str(refused.value)
    assert message.startswith("[catalog]: ") and "unknown field `bet_sockt_url`" in message
    assert "known: bet_socket_url, source" in message


def test_the_catalog_keys_it_knows_are_read() -> None:
    url = "wss://play.example.com/platform/v1/player/socket"
    document = {"catalog": {"bet_socket_url": url, "source": []}}
    assert parse_catalog(document, ProvidersConfig(())).bet_socket_url == url


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        ({"profile": [{"name": "VIP_A", "max_bet": "NaN"}]}, "NaN is not an amount"),
        ({"profile": [{"name": "VIP_A", "min_bet": "500", "max_bet": "5"}]}, "over the maximum"),
        ({"profile": [{"name": "VIP_A", "max_round": "-3"}]}, "-3 is not an amount"),
        ({"profile": [{"name": "VIP_A", "currency": "eur", "max_bet": "5"}]}, "'eur'"),
        ({"profile": [{"name": "VIP_A", "currency": "EUR", "max_bet": "5.001"}]}, "decimals"),
        ({"profile": [{"name": "vip a", "max_bet": "5"}]}, "'vip a' must match"),
        ({"profile": [{"name": "VIP_A", "table": "T1", "max_bet": "5"}]}, "need its provider"),
        ({"profile": [{"name": "VIP_A", "bet_types": {"a\u0000": {"max": "1"}}}]}, "holds U.0000"),
        ({"profile": [{"name": "VIP_A", "provider": "evo\u200b", "max_bet": "5"}]}, "holds U.200B"),
        ({"rule": [{"kyc_status": "verified", "profiles": ["DEFAULT"]}]}, "'verified'"),
        ({"rule": [{"country": "germany", "profiles": ["DEFAULT"]}]}, "'germany'"),
        ({"rule": [{"currency": "euro", "profiles": ["DEFAULT"]}]}, "'euro'"),
    ],
)
def test_limit_profiles_and_rules_from_the_file_are_checked_as_the_api_checks_them(
    limits: dict[str, Any], says: str
) -> None:
    """A NaN maximum compares with no stake (every bet under the profile would fail inside
    the ledger); a rule for `verified` players matches no session (they fall through to
    the next rule, which may give more): refused at start, as `limits.update` and
    `PUT /platform/v1/limits/rules` refuse them."""
    with pytest.raises(ConfigError, match=says):
        parse_frontdoor({"limits": limits}, environ=ENV)


def source(**fields: Any) -> dict[str, Any]:
    entry = {"provider": "hub88", "url": "https://studio.test/catalog", **fields}
    return {"catalog": {"source": [entry]}}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (source(interval_s=0), "interval_s must be"),
        (source(interval_s=-5), "interval_s must be"),
        (source(interval_s=float("nan")), "interval_s must be"),
        (source(interval_s=float("inf")), "interval_s must be"),
        (source(down_after=0), "down_after must be"),
        (source(url="studio.test/catalog"), "url must be"),
        ({"catalog": {"source": source()["catalog"]["source"] * 2}}, "not several"),
    ],
)
def test_a_catalogue_source_that_cannot_be_polled_sensibly_is_refused_at_start(
    document: dict[str, Any], says: str
) -> None:
    """`interval_s = 0` polled the endpoint in a loop without a pause: refused at start."""
    with pytest.raises(ConfigError, match=says):
        parse_sources(document)
    assert parse_sources(source(interval_s=0.2, down_after=2))[0].interval_s == 0.2


EVO = ProvidersConfig(
    (ProviderConfig(id="evo", dialect="evolution", currencies=("EUR",), secret=b"s" * 32),)
)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"blocked_countries": ["us"]}, "'us'"),
        ({"countries": ["Germany"]}, "'Germany'"),
        ({"blocked_countries": ["GB", "U1"]}, "'U1'"),
    ],
)
def test_a_table_whose_countries_no_player_has_is_refused(table: dict[str, Any], says: str) -> None:
    """Players' countries are ISO 3166-1 alpha-2 in upper case: `blocked_countries =
    ["us"]` blocked nobody, `countries = ["Germany"]` admitted nobody, without a word."""
    document = {"table": [{"provider": "evo", "id": "T1", "game": "roulette", **table}]}
    with pytest.raises(ConfigError, match=says):
        parse_catalog(document, EVO)
    fine = {"table": [{"provider": "evo", "id": "T1", "game": "roulette", "countries": ["DE"]}]}
    assert parse_catalog(fine, EVO).find("evo", "T1") is not None
