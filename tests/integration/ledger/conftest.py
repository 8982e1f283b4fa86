"""The ledger's integration tests' fixtures: its settings on the test's streams, and a
ledger on them, closed after the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.ledger.application import Ledger
from tests.integration.ledger.test_ledger_on_jetstream import jetstream_env


@pytest.fixture
def env(nats_url: str, stream_prefix: str) -> dict[str, str]:
    return jetstream_env(nats_url, stream_prefix)


@pytest.fixture
def ledger(env: dict[str, str]) -> Iterator[Ledger]:
    with Ledger(env=env) as ledger:
        yield ledger
