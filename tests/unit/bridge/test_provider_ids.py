"""A table that names a provider must name a configured one: one misspelt would be read and
then do nothing (service levels never judged, a catalogue never listed, limits binding no
bet)."""

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


@pytest.mark.parametrize(
    ("table", "does_nothing"),
    [
        (
            '[[catalog.source]]\nprovider = "evolutoin"\nurl = "https://studio.test/tables"\n',
            "its tables would be listed nowhere",
        ),
        (
            '[[limits.profile]]\nname = "VIP_A"\nprovider = "evolutoin"\nmax_bet = "5"\n',
            "its limits would bind no bet",
        ),
    ],
    ids=["catalog source", "limits profile"],
)
def test_a_catalogue_source_or_limits_profile_of_a_provider_not_configured_is_refused(
    tmp_path: Path, table: str, does_nothing: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        read_config(_read(tmp_path, table))
    assert "'evolutoin'" in str(refused.value) and "ids: evolution" in str(refused.value)
    assert does_nothing in str(refused.value)
    read_config(_read(tmp_path, table.replace("evolutoin", "evolution")))
