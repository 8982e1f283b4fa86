"""The commands say what is missing instead of failing somewhere deep."""

from __future__ import annotations

import pytest

from projections.catalog import NotConfigured
from projections.catalog import settings
from projections.rebuild import RebuildReport
from services.bridge.config import command_env


def test_settings_name_the_missing_log_and_database() -> None:
    with pytest.raises(NotConfigured, match="LIVEBRIDGE_NATS_URL"):
        settings(command_env({}))
    with pytest.raises(NotConfigured, match="LIVEBRIDGE_DATABASE_URL"):
        settings(command_env({"LIVEBRIDGE_NATS_URL": "nats://127.0.0.1:4222"}))
    env = settings(
        command_env(
            {
                "LIVEBRIDGE_NATS_URL": "nats://127.0.0.1:4222",
                "LIVEBRIDGE_DATABASE_URL": "postgresql://u:pw@db.example:6543/views",
                "LIVEBRIDGE_VIEWS_SCHEMA": "readmodels",
            }
        )
    )
    assert env["PERSISTENCE_MODULE"] == "services.eventstore"
    assert env["NATS_URL"] == "nats://127.0.0.1:4222"
    assert env["BALANCES_PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["ROUNDS_POSTGRES_HOST"] == "db.example"
    assert env["ROUNDS_POSTGRES_PORT"] == "6543"
    assert env["ROUNDS_POSTGRES_SCHEMA"] == "readmodels"


def test_a_rebuild_report_says_whether_it_swapped() -> None:
    clean = RebuildReport(name="balances", events=10, seconds=0.5, position=10, swapped=True)
    assert clean.ok and clean.lines()[-1] == "balances: no differences; swapped in"
    dirty = RebuildReport(name="rounds", differences=["rounds_bets: 1 row(s) only in x"])
    assert not dirty.ok
    assert dirty.lines()[-1] == "rounds: 1 difference line(s); live view kept, nothing swapped"
