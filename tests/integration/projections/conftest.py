"""Fixtures for the projection tests: a ledger on JetStream, views in a private schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from projections.catalog import view_env
from services.ledger.application import Ledger
from tests.integration.support.ledgers import jetstream_env


@pytest.fixture
def ledger_env(nats_url: str, stream_prefix: str) -> dict[str, str]:
    return jetstream_env(nats_url, stream_prefix)


@pytest.fixture
def schema() -> str:
    """A schema of its own for each test's views."""
    return f"pt_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def env(ledger_env: dict[str, str], database_url: str, schema: str) -> dict[str, str]:
    """Ledger settings plus view settings, as the composition root would pass them."""
    return {**ledger_env, **view_env(database_url, schema=schema)}


@pytest.fixture
def ledger(ledger_env: dict[str, str]) -> Iterator[Ledger]:
    app = Ledger(ledger_env)
    try:
        yield app
    finally:
        app.close()
