"""The view commands (`livebridge replay`...) as the command line runs them: settings read
from the environment, pointed at a test's log and views."""

from __future__ import annotations

import argparse
import io
import os

import pytest

from projections import commands


def use_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], database_url: str, schema: str
) -> None:
    """The test's ledger (`env`'s log settings) and its views in `schema` of the test
    database, in the environment the commands read."""
    for key in ("PERSISTENCE_MODULE", "NATS_URL", "NATS_STREAM_PREFIX"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("LIVEBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("LIVEBRIDGE_VIEWS_SCHEMA", schema)


def replay(round_id: str, *, as_json: bool = False) -> tuple[int, str]:
    """`livebridge replay <round_id>`: its exit status and what it printed."""
    out = io.StringIO()
    args = argparse.Namespace(round_id=round_id, provider=None, json=as_json)
    status = commands.replay(args, os.environ, out=out)
    return status, out.getvalue()
