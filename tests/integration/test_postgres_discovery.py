"""`make run` finds PostgreSQL as the README says, or starts a private cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.bridge.postgres import PostgresUnavailable
from services.bridge.postgres import PrivateCluster
from services.bridge.postgres import answers
from services.bridge.postgres import ensure_database
from services.bridge.postgres import find_or_start


def test_a_database_url_that_does_not_answer_is_refused_by_name(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    with pytest.raises(PostgresUnavailable, match=r"LIVEBRIDGE_DATABASE_URL=.* does not answer"):
        find_or_start(url, tmp_path)


def test_the_local_server_gets_a_livebridge_database(tmp_path: Path) -> None:
    found = find_or_start(None, tmp_path)
    assert found.private is None
    assert "livebridge" in found.url and answers(found.url)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory the `postgres` user can reach (pytest's own tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="livebridge-pg-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_private_cluster_is_made_started_and_stopped_in_a_directory_of_ours(
    open_dir: Path,
) -> None:
    tmp_path = open_dir
    cluster = PrivateCluster(tmp_path / "pg").start()
    try:
        url = ensure_database(cluster.url)
        assert answers(url)
    finally:
        cluster.stop()
    assert not answers(url)
    restarted = PrivateCluster(tmp_path / "pg").start()  # the data directory is reused
    try:
        assert answers(ensure_database(restarted.url))
    finally:
        restarted.stop()
