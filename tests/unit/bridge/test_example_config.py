"""`infra/livebridge.example.toml` is read whole by `livebridge run`'s check, every key of it
known: an operator copying it gets a bridge that starts, not a refusal."""

from __future__ import annotations

import re
from pathlib import Path

from services.bridge.config import Settings
from services.bridge.configfile import read_config


def test_the_example_configuration_passes_the_whole_check(repo_root: Path, tmp_path: Path) -> None:
    """Its secret files are made in the test's folder (Hub88's: the test key) and the
    variables it names are set, each to a secret of its own."""
    text = (repo_root / "infra" / "livebridge.example.toml").read_text()
    pem = (repo_root / "tests" / "keys" / "hub88_TEST_ONLY_public.pem").read_text()
    for file in set(re.findall(r'secret_file = "(/etc/livebridge/[^"]+)"', text)):
        made = tmp_path / Path(file).name
        made.write_text(pem if "hub88" in file else f"{made.name}-secret".ljust(40, "s"))
        text = text.replace(f'"{file}"', f'"{made}"')
    config = tmp_path / "livebridge.toml"
    config.write_text(text)
    variables = set(re.findall(r'_env = "([A-Z0-9_]+)"', text))
    env = {name: f"{name}-secret".ljust(40, "s") for name in variables} | {
        "LIVEBRIDGE_CONFIG": str(config),
        "LIVEBRIDGE_HOME": str(tmp_path / "home"),
    }

    read = read_config(Settings.from_env(env))

    assert [p.id for p in read.providers.providers] == [
        "hub88",
        "evolution",
        "pragmatic",
        "softswiss",
        "ezugi",
    ]
    assert [k.key_id for k in read.frontdoor.keys] == ["2026-12", "ops-admin"]
    assert len(read.frontdoor.limits.updates) == 2 and len(read.frontdoor.limits.rules) == 2
