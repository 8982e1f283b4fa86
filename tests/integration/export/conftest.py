"""Shared by the export tests: the export commands run as the CLI runs them, and the ledger's
settings in the environment those commands read."""

from __future__ import annotations

import argparse

import pytest

from projections.export.commands import register


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="livebridge")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


@pytest.fixture
def env(nats_url: str, stream_prefix: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    settings = {
        "PERSISTENCE_MODULE": "services.eventstore",
        "NATS_URL": nats_url,
        "NATS_STREAM_PREFIX": stream_prefix,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return settings
