"""Settings of the environment the bridge and its commands could not use are refused as
they are read, one `SettingsError` naming the variable: on/off switches other than `1`
or `0`, numbers in other than ASCII digits, stream names NATS would refuse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.bridge import heapwatch
from services.bridge.config import Settings
from services.bridge.config import SettingsError
from services.bridge.config import command_env
from services.bridge.configfile import read_config

SWITCHES = ("LIVEBRIDGE_CLUSTER", "LIVEBRIDGE_ALLOW_UNSYNCED_NATS", "LIVEBRIDGE_VIEWS_PROCESS")


@pytest.mark.parametrize("name", SWITCHES)
@pytest.mark.parametrize("value", ["false", "yes", "true", "2", "on"])
def test_a_switch_spelled_otherwise_than_1_or_0_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"{name}='{value}': give 1 \(on\) or 0 \(off\)"):
        Settings.from_env({name: value})


def test_switches_read_1_0_and_their_defaults_when_unset_or_empty() -> None:
    on = Settings.from_env(dict.fromkeys(SWITCHES, "1"))
    assert on.cluster and on.allow_unsynced_nats and on.views_process
    off = Settings.from_env(dict.fromkeys(SWITCHES, "0"))
    assert not (off.cluster or off.allow_unsynced_nats or off.views_process)
    for unset in ({}, dict.fromkeys(SWITCHES, "")):  # `make run` passes LIVEBRIDGE_CLUSTER=
        found = Settings.from_env(unset)
        assert (found.cluster, found.allow_unsynced_nats, found.views_process) == (
            False,
            False,
            True,
        )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVEBRIDGE_HTTP_PORT", "\u00b2"),  # a digit to str.isdigit, not to int(): a traceback
        ("LIVEBRIDGE_HTTP_PORT", "\u0661\u0662\u0663"),  # int() reads 123: bound on port 123
        ("LIVEBRIDGE_NATS_REPLICAS", "\u00b2"),
        ("LIVEBRIDGE_NATS_REPLICAS", "\u0663"),
    ],
)
def test_a_number_in_other_than_ascii_digits_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_a_heap_watch_count_in_other_than_ascii_digits_is_refused_naming_it() -> None:
    watch = {"LIVEBRIDGE_HEAP_WATCH_DIR": "heap", "LIVEBRIDGE_HEAP_WATCH_FRAMES": "\u00b2"}
    with pytest.raises(ValueError, match="LIVEBRIDGE_HEAP_WATCH_FRAMES='\u00b2'"):
        heapwatch.check(watch)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVEBRIDGE_STREAM_PREFIX", "a.b"),  # NATS refuses the stream name: a traceback
        ("LIVEBRIDGE_STREAM_PREFIX", "L B"),
        ("NATS_STREAM_PREFIX", "*"),
    ],
)
def test_a_stream_prefix_nats_would_refuse_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"{name}='{re.escape(value)}'"):
        Settings.from_env({name: value})
    with pytest.raises(SettingsError, match=name):
        command_env({name: value})  # every command's environment, as `livebridge` reads it


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVEBRIDGE_SETTLE_STREAM", "round.settle"),
        ("LIVEBRIDGE_SETTLE_STREAM", "ROUND SETTLE"),
        ("LIVEBRIDGE_SETTLE_SUBJECT", "round.settle.>"),
        ("LIVEBRIDGE_SETTLE_SUBJECT", "round..settle"),
        ("LIVEBRIDGE_SETTLE_SUBJECT", ""),
        ("LIVEBRIDGE_LOG_FORMAT", "xml"),  # text lines, without a word
        ("LIVEBRIDGE_LOG_FORMAT", "jsonl"),
    ],
)
def test_a_settle_stream_or_log_format_the_bridge_cannot_use_is_refused_as_the_config_is_read(
    tmp_path: Path, name: str, value: str
) -> None:
    env = {"LIVEBRIDGE_HOME": str(tmp_path), "LIVEBRIDGE_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    with pytest.raises(SettingsError, match=rf"{name}='{re.escape(value)}'"):
        read_config(Settings.from_env({**env, name: value}))
