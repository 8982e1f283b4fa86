"""Provider configuration: TOML in, secrets from env or files, never from the file itself."""

from __future__ import annotations

import ast
import math
import re
import sys
from pathlib import Path

import pytest

from services.edge.adapters.evolution import Adapter as EvolutionAdapter
from services.edge.adapters.ezugi import Adapter as EzugiAdapter
from services.edge.adapters.registry import ADAPTERS
from services.edge.config import ANSWER_WITHIN_S
from services.edge.config import DIALECT_OPTIONS
from services.edge.config import FEED_OPTIONS
from services.edge.config import ConfigError
from services.edge.config import OptionValue
from services.edge.config import ProviderConfig
from services.edge.config import load_providers
from services.edge.config import parse_providers
from services.edge.feeds import setup as feed_setup
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

TOML = """
[[provider]]
id = "hub88"
dialect = "hub88"
currencies = ["EUR", "USD"]
secret_file = "hub88.pem"
allow_ips = ["10.0.0.0/8", "127.0.0.1"]
rate_limit = 50
max_body_bytes = 4096

[[provider]]
id = "evo-eu"
dialect = "evolution"
currencies = ["EUR"]
secret_env = "EVO_TOKEN"
default = true
[provider.options]
session_ttl_s = 600

[[provider]]
id = "evo-asia"
dialect = "evolution"
currencies = ["THB"]
secret_env = "EVO_ASIA_TOKEN"
"""


def test_providers_load_with_secrets_from_files_and_environment(tmp_path: Path) -> None:
    (tmp_path / "hub88.pem").write_bytes(b"PEM")
    (tmp_path / "livebridge.toml").write_text(TOML)
    env = {
        "EVO_TOKEN": "s3cret",
        "EVO_ASIA_TOKEN": "other",
        "LIVEBRIDGE_CONFIG": str(tmp_path / "livebridge.toml"),
    }
    config = load_providers(environ=env)
    hub = config.get("hub88")
    assert hub.secret == b"PEM" and hub.currencies == ("EUR", "USD")
    assert hub.rate_limit == 50 and hub.burst == 100 and hub.max_body_bytes == 4096
    assert [str(n) for n in hub.allow_ips] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert config.get("evo-eu").text_secret() == "s3cret"
    assert config.get("evo-eu").option("session_ttl_s", 0) == 600
    assert config.default_for("evolution") is config.get("evo-eu")
    assert config.default_for("hub88") is hub
    assert config.default_for("pragmatic") is None


def test_a_secret_written_in_the_file_is_refused() -> None:
    doc = {"provider": [{"id": "p", "dialect": "hub88", "currencies": ["EUR"], "secret": "x"}]}
    with pytest.raises(ConfigError, match="never go in the configuration file"):
        parse_providers(doc, environ={})


def test_a_missing_secret_fails_at_start_naming_the_variable() -> None:
    doc = {
        "provider": [{"id": "p", "dialect": "hub88", "currencies": ["EUR"], "secret_env": "NOPE"}]
    }
    with pytest.raises(ConfigError, match="NOPE"):
        parse_providers(doc, environ={})


@pytest.mark.parametrize("dialect", sorted(DIALECT_OPTIONS))
def test_a_secret_of_white_space_only_is_refused_for_every_dialect(
    dialect: str, tmp_path: Path
) -> None:
    """Secrets are used stripped: white space alone would be an empty key anyone can sign
    with (SoftSwiss, Pragmatic, Ezugi) or an `authToken` any caller matches (Evolution)."""
    (tmp_path / "blank").write_text(" \n")
    entry = {"id": "p", "dialect": dialect, "currencies": ["EUR"]}
    with pytest.raises(
        ConfigError, match=re.escape("BLANK (secret_env) is not set (it holds only white space)")
    ):
        parse_providers({"provider": [{**entry, "secret_env": "BLANK"}]}, environ={"BLANK": " \t"})
    with pytest.raises(ConfigError, match=r"secret_file .*blank is empty"):
        parse_providers(
            {"provider": [{**entry, "secret_file": "blank"}]}, environ={}, base=tmp_path
        )


def test_bad_ids_currencies_networks_and_duplicates_are_refused() -> None:
    base = {"dialect": "hub88", "currencies": ["EUR"], "secret_env": "S"}
    env = {"S": "x"}
    for bad in (
        {**base, "id": "Bad Id"},
        {**base, "id": "p", "currencies": ["XXX"]},
        {**base, "id": "p", "allow_ips": ["nope"]},
        {**base, "id": "p", "rate_limit": -1},
    ):
        with pytest.raises(ConfigError):
            parse_providers({"provider": [bad]}, environ=env)
    with pytest.raises(ConfigError, match="unique"):
        parse_providers({"provider": [{**base, "id": "p"}, {**base, "id": "p"}]}, environ=env)


def test_each_dialect_answers_within_its_providers_deadline_unless_configured() -> None:
    """Evolution certifies answers under 700 ms, Hub88 times a bet out at 1 s."""
    document = {
        "provider": [
            {"id": d, "dialect": d, "currencies": ["EUR"], "secret_env": "S"}
            for d in ("evolution", "hub88", "pragmatic", "ezugi", "softswiss", "custom")
        ]
        + [
            {
                "id": "slow-evo",
                "dialect": "evolution",
                "currencies": ["EUR"],
                "secret_env": "S",
                "answer_within_s": 2,
            }
        ]
    }
    providers = parse_providers(document, environ={"S": "s"})
    deadlines = {p.id: p.answer_within_s for p in providers.providers}
    assert deadlines["evolution"] < 0.7 and deadlines["hub88"] < 1.0
    assert deadlines == {
        **{d: ANSWER_WITHIN_S[d] for d in ANSWER_WITHIN_S},
        "custom": 5.0,
        "slow-evo": 2.0,
    }


def test_a_provider_built_in_code_gets_its_dialects_deadline_too() -> None:
    built = ProviderConfig(id="e", dialect="evolution", currencies=("EUR",), secret=b"s")
    assert built.answer_within_s == ANSWER_WITHIN_S["evolution"] == 0.6
    chosen = ProviderConfig(
        id="e", dialect="evolution", currencies=("EUR",), secret=b"s", answer_within_s=1.5
    )
    assert chosen.answer_within_s == 1.5


MISTYPED = [
    ("ip_alowlist", ["10.0.0.0/8"]),  # would leave the allowlist at loopback only
    ("rate_limt", 5),  # would leave the limit at 1000 a second
    ("allow_ip", ["10.0.0.0/8"]),
    ("max_body", 1024),
]


@pytest.mark.parametrize(("key", "value"), MISTYPED, ids=[k for k, _ in MISTYPED])
def test_a_mistyped_provider_key_is_refused_naming_the_provider_the_key_and_the_known_ones(
    key: str, value: object
) -> None:
    entry = {"id": "evo", "dialect": "evolution", "currencies": ["EUR"], "secret_env": "S"}
    with pytest.raises(ConfigError) as refused:
        parse_providers({"provider": [{**entry, key: value}]}, environ={"S": "s"})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("provider 'evo': ") and f"`{key}`" in message
    assert "(known: id, dialect, currencies," in message and "allow_ips" in message


@pytest.mark.parametrize("value", ["yes", "false", 1])
def test_default_is_true_or_false_not_a_word_or_a_number(value: object) -> None:
    """`default = "false"` read as truthy would make the provider its dialect's default."""
    entry = {"id": "evo", "dialect": "evolution", "currencies": ["EUR"], "secret_env": "S"}
    with pytest.raises(ConfigError) as refused:
        parse_providers({"provider": [{**entry, "default": value}]}, environ={"S": "s"})
    message = str(refused.value)
    assert message.startswith("provider 'evo': ") and "$.default" in message, message


def test_an_option_its_dialect_does_not_read_is_refused_and_any_other_dialect_is_left_alone() -> (
    None
):
    def provider(dialect: str, **options: object) -> dict[str, object]:
        entry = {"id": "p", "dialect": dialect, "currencies": ["EUR"], "secret_env": "S"}
        return {"provider": [{**entry, "options": options}]}

    with pytest.raises(ConfigError) as refused:
        parse_providers(provider("evolution", sesion_ttl_s=60), environ={"S": "s"})
    message = str(refused.value)
    assert message.startswith("provider 'p': [provider.options]: unknown option `sesion_ttl_s`")
    assert "dialect 'evolution'" in message and "session_ttl_s, test_sid)" in message
    with pytest.raises(ConfigError, match="unknown option `operator_id` for dialect 'hub88'"):
        parse_providers(provider("hub88", operator_id=7), environ={"S": "s"})

    read = parse_providers(provider("ezugi", operator_id=7, feed="push"), environ={"S": "s"})
    assert read.get("p").options == {"operator_id": 7, "feed": "push"}
    unchecked = parse_providers(provider("custom", anything=1), environ={"S": "s"})
    assert unchecked.get("p").option("anything", 0) == 1


def test_the_options_listed_per_dialect_are_those_its_adapter_and_the_feeds_read() -> None:
    """`DIALECT_OPTIONS` and `FEED_OPTIONS` are written beside the adapters' own reads:
    an option an adapter starts reading must be listed, or its providers are refused."""
    for dialect, adapter in ADAPTERS.items():
        source = Path(sys.modules[adapter.__module__].__file__ or "").read_text()
        assert _option_reads(source) == DIALECT_OPTIONS[dialect], dialect
    feeds = Path(feed_setup.__file__).read_text()
    references = re.findall(r'_reference\(provider, "(\w+)"', feeds)
    read = {*_option_reads(feeds), *(f"{r}_env" for r in references)}
    assert read | {f"{r}_file" for r in references} == FEED_OPTIONS


def _option_reads(source: str) -> set[str]:
    """The names in `<...>.option("name", ...)`, `.seconds("name", ...)` and `.flag("name")`
    calls of `source`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("option", "seconds", "flag")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("dialect", ["evolution", "ezugi"])
@pytest.mark.parametrize("ttl", [True, "600", -5, 0, math.nan, math.inf])
def test_a_session_ttl_that_is_no_positive_number_stops_the_adapter_being_made(
    dialect: str, ttl: OptionValue
) -> None:
    options: dict[str, OptionValue] = {"operator_id": 7} if dialect == "ezugi" else {}
    with pytest.raises(ConfigError, match=f"provider '{dialect}': session_ttl_s must be"):
        rig(provider(dialect, b"s", options={**options, "session_ttl_s": ttl}))


def test_the_session_ttl_reaches_both_dialects_that_issue_tokens() -> None:
    made = rig(
        provider("evolution", b"s", options={"session_ttl_s": 600}),
        provider("ezugi", b"s", options={"operator_id": 7, "session_ttl_s": 90.5}),
    )
    evolution, ezugi = made.gate("evolution").adapter, made.gate("ezugi").adapter
    assert isinstance(evolution, EvolutionAdapter) and evolution.ttl == 600.0
    assert isinstance(ezugi, EzugiAdapter) and ezugi.session_ttl_s == 90.5
