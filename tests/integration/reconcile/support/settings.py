"""The settings `livebridge reconcile` reads, pointed at a test's stores."""

from __future__ import annotations

import pytest


def use_test_stores(
    monkeypatch: pytest.MonkeyPatch, database_url: str, schema: str, nats_url: str, prefix: str
) -> None:
    """The reconcile view in `schema` of the test database, the audit queue in the test
    nats-server's streams named `prefix`."""
    monkeypatch.setenv("LIVEBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("LIVEBRIDGE_VIEWS_SCHEMA", schema)
    monkeypatch.setenv("LIVEBRIDGE_NATS_URL", nats_url)
    monkeypatch.setenv("NATS_STREAM_PREFIX", prefix)
