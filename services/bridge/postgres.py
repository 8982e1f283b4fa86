"""Find the PostgreSQL that holds livebridge's views, or start a private one.

Order (as the README says): `LIVEBRIDGE_DATABASE_URL`; else a server on 127.0.0.1:5432,
where a `livebridge` database is created if missing; else a private cluster under
`<home>/postgres` made with `initdb` and run with `pg_ctl`, if PostgreSQL's binaries are
installed; else `PostgresUnavailable` with what to install.
"""

from __future__ import annotations

import getpass
import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from services.infra.natsserver import free_port

DATABASE = "livebridge"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL could be found or started."""


@dataclass
class Postgres:
    url: str
    private: PrivateCluster | None = None

    def stop(self) -> None:
        if self.private is not None:
            self.private.stop()


def answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def ensure_database(admin_url: str, name: str = DATABASE) -> str:
    """Create `name` on the server behind `admin_url` if missing; the URL of that database."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})


def pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


class PrivateCluster:
    """A PostgreSQL cluster in a directory of ours, on a free port, trust auth on loopback."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.data = self.directory / "data"
        self.port = free_port()
        initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise PostgresUnavailable(
                "no PostgreSQL answered on 127.0.0.1:5432 and initdb/pg_ctl are not installed. "
                "Install PostgreSQL (apt-get install postgresql) or set LIVEBRIDGE_DATABASE_URL."
            )
        self.initdb, self.pg_ctl = initdb, pg_ctl
        # PostgreSQL refuses to run as root: run it as the `postgres` system user then.
        self.run_as: list[str] = []
        self.user = getpass.getuser()
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no `postgres` system user to run a private "
                    "PostgreSQL as; set LIVEBRIDGE_DATABASE_URL"
                ) from None
            self.run_as = ["runuser", "-u", "postgres", "--"]
            self.user = "postgres"
            self.directory.mkdir(parents=True, exist_ok=True)
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self.run_as, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(command[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}"
            )

    def start(self) -> PrivateCluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            self._run(self.initdb, "-D", str(self.data), "--auth=trust", "-U", self.user)
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        log = str(self.directory / "postgres.log")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")


def find_or_start(database_url: str | None, home: Path) -> Postgres:
    if database_url:
        if not answers(database_url):
            raise PostgresUnavailable(f"LIVEBRIDGE_DATABASE_URL={database_url} does not answer")
        return Postgres(url=database_url)
    for local in (
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "postgresql://127.0.0.1:5432/postgres",
    ):
        if answers(local):
            return Postgres(url=ensure_database(local))
    cluster = PrivateCluster(home / "postgres").start()
    return Postgres(url=ensure_database(cluster.url), private=cluster)
