"""Fixtures of the platform feed's integration tests: a NATS client and a ledger on JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator

import nats
import pytest
from nats.aio.client import Client

from services.ledger.application import Ledger
from tests.integration.platform.test_webhooks import open_wallets
from tests.integration.support.ledgers import jetstream_ledger


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
def app(nats_url: str, stream_prefix: str) -> Iterator[Ledger]:
    """The ledger with its players' wallets, its log in the same JetStream server as the
    settle stream."""
    ledger = jetstream_ledger(nats_url, stream_prefix)
    try:
        open_wallets(ledger)
        yield ledger
    finally:
        ledger.close()
