"""Every view the service keeps, and the settings that put them in PostgreSQL.

`VIEWS` names each read model (its projection and its PostgreSQL view): the bridge runs
them all, `livebridge projections rebuild` covers them. `view_env(database_url)` puts
every view's settings under `<NAME>_` keys, so they never mix with the ledger's;
`settings(env)` is the ledger's settings plus the views', or `NotConfigured` naming what
is missing. Nothing here reads the process environment: the composition root passes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.projection import Projection

from projections.balances.postgres import PostgresBalancesView
from projections.balances.projection import BalancesProjection
from projections.pgview import PostgresView
from projections.reconcile.postgres import PostgresReconcileView
from projections.reconcile.projection import ReconcileProjection
from projections.rounds.postgres import PostgresRoundsView
from projections.rounds.projection import RoundsProjection


@dataclass(frozen=True)
class ViewSpec:
    projection_class: type[Projection[Any]]
    view_class: type[PostgresView[Any]]

    @property
    def name(self) -> str:
        return self.projection_class.name


VIEWS: dict[str, ViewSpec] = {
    spec.name: spec
    for spec in (
        ViewSpec(BalancesProjection, PostgresBalancesView),
        ViewSpec(RoundsProjection, PostgresRoundsView),
        ViewSpec(ReconcileProjection, PostgresReconcileView),
    )
}
"""Every view the service keeps: the bridge runs them all, `projections rebuild` covers them."""


def view_env(
    database_url: str,
    *,
    schema: str = "public",
    names: tuple[str, ...] = tuple(VIEWS),
    pool_size: int = 2,
) -> dict[str, str]:
    """Settings that put each named view in PostgreSQL at `database_url`, in `schema`."""
    parts = psycopg.conninfo.conninfo_to_dict(database_url)
    env: dict[str, str] = {}
    for name in names:
        key = name.upper()
        env.update(
            {
                f"{key}_PERSISTENCE_MODULE": "eventsourcing.postgres",
                f"{key}_POSTGRES_DBNAME": str(parts.get("dbname", "postgres")),
                f"{key}_POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
                f"{key}_POSTGRES_PORT": str(parts.get("port", "5432")),
                f"{key}_POSTGRES_USER": str(parts.get("user", "postgres")),
                f"{key}_POSTGRES_PASSWORD": str(parts.get("password", "")),
                f"{key}_POSTGRES_SCHEMA": schema,
                f"{key}_POSTGRES_POOL_SIZE": str(pool_size),
                f"{key}_POSTGRES_MAX_OVERFLOW": "4",
            }
        )
    return env


class NotConfigured(Exception):
    """A setting the command needs is missing; the message says which."""


def settings(env: Mapping[str, str]) -> dict[str, str]:
    """The ledger's settings in `env` and every view's, or `NotConfigured` naming the gap.

    `env` holds the ledger's settings under the library's names (`PERSISTENCE_MODULE`,
    `NATS_URL`, `NATS_STREAM_PREFIX`) and `LIVEBRIDGE_DATABASE_URL`, with
    `LIVEBRIDGE_VIEWS_SCHEMA` (default `public`).
    """
    if not env.get("PERSISTENCE_MODULE"):
        msg = (
            "no ledger log configured: set LIVEBRIDGE_NATS_URL (or NATS_URL) to the "
            "JetStream server the bridge writes to"
        )
        raise NotConfigured(msg)
    database_url = env.get("LIVEBRIDGE_DATABASE_URL")
    if not database_url:
        msg = "no views database configured: set LIVEBRIDGE_DATABASE_URL (postgresql://...)"
        raise NotConfigured(msg)
    schema = env.get("LIVEBRIDGE_VIEWS_SCHEMA", "public")
    return {**env, **view_env(database_url, schema=schema)}
