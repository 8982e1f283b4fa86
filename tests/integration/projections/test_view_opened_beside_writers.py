"""A view opened again while a runner writes its tables takes no lock those writes hold.

The library runs a view's DDL in one transaction, and `CREATE INDEX IF NOT EXISTS` locks its
table against writes before it finds the index: a view opened beside a live runner writing
two of its tables deadlocked with it (seen in CI on the exactly-once test).
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg.sql import SQL
from psycopg.sql import Identifier

from projections.catalog import VIEWS
from projections.rebuild import open_view


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_view_opens_again_while_a_writer_holds_its_tables(
    name: str, env: dict[str, str], database_url: str, schema: str
) -> None:
    spec = VIEWS[name]
    first = open_view(spec.projection_class, spec.view_class, env)
    tables = first.tables()
    first.close()

    with psycopg.connect(database_url) as writer:
        # What a runner's open transaction holds on every table it has written.
        for table in tables:
            writer.execute(
                SQL("LOCK TABLE {0} IN ROW EXCLUSIVE MODE").format(Identifier(schema, table))
            )
        opened = threading.Event()

        def reopen() -> None:
            open_view(spec.projection_class, spec.view_class, env).close()
            opened.set()

        thread = threading.Thread(target=reopen, daemon=True)
        thread.start()
        assert opened.wait(10), f"opening the {name} view waited on a writer's lock"
        writer.rollback()
    thread.join(10)
