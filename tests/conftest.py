"""Shared fixtures: a real nats-server from the wheel and a real PostgreSQL.

Integration tests never mock either. A missing prerequisite fails loudly with what
to install; nothing is skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from xdist.scheduler import LoadGroupScheduling

from services.infra.natsserver import NatsServer

POSTGRES_ADMIN_URL = os.environ.get(
    "LIVEBRIDGE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ONE_AT_A_TIME = (
    "tests/integration/chaos/",
    "tests/integration/cluster/",
    "tests/integration/bench/",
)
"""Tests that start three-node clusters or whole chaos runs (nats-servers, bridges, a
PostgreSQL), the ones a busy machine fails first (leader elections, readiness deadlines),
and the benches, which load both cores by design: beside the benches, two bridges starting
on a fresh cluster timed out reading stream info."""


class OneAtATime(LoadGroupScheduling):  # type: ignore[misc]
    """`make test`'s workers (`--dist loadgroup`) run `ONE_AT_A_TIME` as one unit, on one
    worker, so two of them never share the machine's two cores; the largest unit, it
    starts first. (xdist's own `xdist_group` mark renames node ids, which pytest 9.2 no
    longer lets a plugin do, so the group is named by path here.)"""

    def _split_scope(self, nodeid: str) -> str:
        return "one_at_a_time" if nodeid.startswith(ONE_AT_A_TIME) else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> OneAtATime | None:
    return OneAtATime(config, log) if config.getvalue("dist") == "loadgroup" else None


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server 2.15 (fsync always) per test session, on a free port."""
    with NatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def stream_prefix() -> str:
    """A unique stream-name prefix: every test gets fresh streams (sequences start at 1)."""
    return "T" + uuid.uuid4().hex[:12].upper()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A scratch database for this test session, dropped at the end."""
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the integration tests and did not answer at "
            f"{POSTGRES_ADMIN_URL} ({exc}). Install and start it (apt-get install postgresql) "
            "or point LIVEBRIDGE_TEST_DATABASE_URL at a server where the user may CREATE DATABASE."
        )
    name = f"livebridge_test_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_env(postgres_database: str) -> dict[str, str]:
    """eventsourcing.postgres settings pointing at the session's scratch database."""
    admin = psycopg.conninfo.conninfo_to_dict(POSTGRES_ADMIN_URL)
    return {
        "POSTGRES_DBNAME": postgres_database,
        "POSTGRES_HOST": str(admin.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(admin.get("port", "5432")),
        "POSTGRES_USER": str(admin.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(admin.get("password", "")),
    }


@pytest.fixture
def database_url(postgres_database: str) -> str:
    admin = psycopg.conninfo.conninfo_to_dict(POSTGRES_ADMIN_URL)
    admin["dbname"] = postgres_database
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in admin.items()})


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
