"""A PostgreSQL database of a run's own: created on entry, dropped on the way out.

A bench or a test that serves a whole bridge gives it a database of its own, so the
views' tracking rows start again at position 1 and nothing of another run shows through.
The drop is `WITH (FORCE)`: connections the run left open do not keep the database alive.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from psycopg import conninfo
from psycopg import sql


@contextlib.contextmanager
def own_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database `<prefix>_<10 hex>` on the server behind `admin_url` (a user that may
    CREATE DATABASE); yields its URL and drops it on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield conninfo.make_conninfo(admin_url, dbname=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
