"""Shared by the export tests: the ledger's settings in the environment the export commands
read, and an export key configured for them (the commands run as the CLI runs them: `cli`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.support.ledgers import jetstream_env
from tests.unit.export.support.toylog import cli


@pytest.fixture
def env(nats_url: str, stream_prefix: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    settings = jetstream_env(nats_url, stream_prefix)
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return settings


@pytest.fixture
def public_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh export key pair made as an operator makes it, the private key named in a
    `livebridge.toml` of this test's own; the public key, for `verify --key`."""
    keys = tmp_path / "keys"
    assert cli("export-key", "new", "--out", str(keys)) == 0
    config = tmp_path / "livebridge.toml"
    config.write_text('[export]\nsigning_key_file = "keys/export-signing-key.pem"\n')
    monkeypatch.setenv("LIVEBRIDGE_CONFIG", str(config))
    return keys / "export-public-key.pem"
