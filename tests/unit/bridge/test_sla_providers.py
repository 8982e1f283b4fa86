"""`[sla.provider.<id>]` must name a configured provider: one misspelt is never judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.bridge.config import Settings
from services.bridge.config import SettingsError
from services.bridge.configfile import read_config

EVOLUTION = (
    '[[provider]]\nid = "evolution"\ndialect = "evolution"\ncurrencies = ["EUR"]\n'
    'secret_env = "SLA_TEST_TOKEN"\n'
)


def _read(tmp_path: Path, sla: str) -> Settings:
    config = tmp_path / "livebridge.toml"
    config.write_text(EVOLUTION + sla)
    return Settings.from_env(
        {
            "LIVEBRIDGE_CONFIG": str(config),
            "LIVEBRIDGE_HOME": str(tmp_path / "home"),
            "SLA_TEST_TOKEN": "evo-token",
        }
    )


def test_service_levels_of_a_provider_not_configured_are_refused_naming_it(
    tmp_path: Path,
) -> None:
    settings = _read(tmp_path, "[sla.provider.evolutoin]\nerror_rate = 0.05\n")
    with pytest.raises(SettingsError) as refused:
        read_config(settings)
    assert str(refused.value).startswith(f"{settings.config_path}: [sla.provider.evolutoin]: ")
    assert "'evolutoin'" in str(refused.value) and "ids: evolution" in str(refused.value)


def test_service_levels_of_a_configured_provider_are_read(tmp_path: Path) -> None:
    read = read_config(_read(tmp_path, "[sla.provider.evolution]\nerror_rate = 0.05\n"))
    assert set(read.sla.providers) == {"evolution"}
