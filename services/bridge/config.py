"""Settings for one livebridge process, read from the environment once at start.

Only the composition roots (`services.cli`, `services.bridge.main`,
`services.bridge.projections_main`) read the process environment; they pass it here and
hand what each part needs down. A setting that cannot be used is a `SettingsError` naming
the variable (or, from `services.bridge.configfile`, the file and key): `livebridge run`
prints it as one line and exits 2 before it starts anything.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from collections.abc import MutableMapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from services.bridge import memory
from services.bridge.memory import MemoryBounds
from services.bridge.memory import MemoryBudgetError
from services.infra.natsserver import shown
from services.infra.natsserver import url_fault

ENDPOINTS_FILE = "endpoints.json"
DEFAULT_CONFIG = "livebridge.toml"


class SettingsError(ValueError):
    """A setting cannot be used; the message names the variable, or the file and key."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    home: Path
    """Local data: the embedded nats-server's store, a private PostgreSQL, bench output."""
    http_host: str
    http_port: int
    nats_url: str | None
    """An external JetStream server or cluster (several URLs, comma-separated); None starts
    one from the wheel under `home`, or three (`cluster`)."""
    cluster: bool = False
    """`LIVEBRIDGE_CLUSTER=1` (`make run CLUSTER=1`): start a three-node cluster, not one."""
    nats_replicas: int = 1
    """Replicas of every stream and KV bucket livebridge creates: `LIVEBRIDGE_NATS_REPLICAS`,
    else 3 on a cluster (started, or several URLs) and 1 on one server."""
    nats_monitor_url: str | None
    allow_unsynced_nats: bool
    database_url: str | None
    lease_ttl: float = 3.0
    """`LIVEBRIDGE_LEASE_TTL_S`: seconds before another bridge takes over a job whose holder
    went silent (`services.bridge.leases`)."""
    config_path: Path
    config_named: bool = False
    """`LIVEBRIDGE_CONFIG` was set: its file must exist. Only the default `livebridge.toml`
    may be absent (a fresh machine: no providers, no operator keys)."""
    stream_prefix: str
    """JetStream streams are `<prefix>_<APP>`: `LB_LEDGER`, `LB_LEDGER_SNAPSHOTS`."""
    views_process: bool = True
    """`LIVEBRIDGE_VIEWS_PROCESS` (default 1): the views' runners in a process of their own
    beside the bridge (`services.bridge.viewsproc`); 0 keeps them in the bridge's."""
    memory: MemoryBounds = field(default_factory=memory.default_bounds)
    """Every cache's bound, from `LIVEBRIDGE_MEMORY_BUDGET_MB` (`services.bridge.memory`)."""
    environ: Mapping[str, str]
    """The process environment as the root read it: the secrets the configuration names by
    variable, the settle stream's names, the telemetry's `OTEL_*`."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The settings in `env`; a `SettingsError` names the first that cannot be used."""
        home = Path(env.get("LIVEBRIDGE_HOME", ".livebridge")).resolve()
        nats_url = env.get("LIVEBRIDGE_NATS_URL") or None
        fault = url_fault(nats_url) if nats_url else None
        if fault is not None:
            raise SettingsError(f"LIVEBRIDGE_NATS_URL={shown(str(nats_url))!r}: {fault}")
        cluster = switch(env, "LIVEBRIDGE_CLUSTER", False)
        http_port = _port(env, "LIVEBRIDGE_HTTP_PORT", 8080)
        lease_ttl = seconds(env, "LIVEBRIDGE_LEASE_TTL_S", 3.0)
        try:
            budget = memory.from_env(env)
        except MemoryBudgetError as exc:
            raise SettingsError(str(exc)) from None
        return cls(
            home=home,
            http_host=env.get("LIVEBRIDGE_HTTP_HOST", "127.0.0.1"),
            http_port=http_port,
            nats_url=nats_url,
            cluster=cluster and nats_url is None,
            nats_replicas=nats_replicas(env, cluster=cluster),
            nats_monitor_url=env.get("LIVEBRIDGE_NATS_MONITOR_URL") or None,
            allow_unsynced_nats=switch(env, "LIVEBRIDGE_ALLOW_UNSYNCED_NATS", False),
            database_url=env.get("LIVEBRIDGE_DATABASE_URL") or None,
            lease_ttl=lease_ttl,
            views_process=switch(env, "LIVEBRIDGE_VIEWS_PROCESS", True),
            config_path=config_path(env),
            config_named=bool(env.get("LIVEBRIDGE_CONFIG")),
            stream_prefix=stream_prefix(env),
            memory=budget,
            environ=dict(env),
        )


def config_path(env: Mapping[str, str]) -> Path:
    """`LIVEBRIDGE_CONFIG`, else `livebridge.toml` in the working directory."""
    return Path(env.get("LIVEBRIDGE_CONFIG") or DEFAULT_CONFIG)


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{name}={raw!r}: give a TCP port, a number from 1 to 65535")
    return int(raw)


def switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The setting `name`, `1` or `0` (`default` when unset or empty); a `SettingsError`
    naming it otherwise: `LIVEBRIDGE_VIEWS_PROCESS=false` meant 1, `LIVEBRIDGE_CLUSTER=yes`
    started one server, each without a word."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw not in ("0", "1"):
        raise SettingsError(f"{name}={raw!r}: give 1 (on) or 0 (off)")
    return raw == "1"


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """The setting `name` as a number of seconds above 0 (`default` when unset); a
    `SettingsError` naming it otherwise."""
    raw = env.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name}={raw!r}: give a number of seconds above 0")
    return value


DEFAULT_STREAM_PREFIX = "LB"


def nats_replicas(environ: Mapping[str, str], *, cluster: bool = False) -> int:
    """`LIVEBRIDGE_NATS_REPLICAS` (1 to 5), else 3 on a cluster and 1 on one server.

    A cluster is one `livebridge run` starts (`cluster`) or a `LIVEBRIDGE_NATS_URL` naming
    several servers.
    """
    given = environ.get("LIVEBRIDGE_NATS_REPLICAS", "")
    if given:
        if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= 5:
            raise SettingsError(
                f"LIVEBRIDGE_NATS_REPLICAS={given!r}: give a number of replicas from 1 to 5 "
                "(JetStream's limit), at most the number of servers in the cluster"
            )
        return int(given)
    several = "," in environ.get("LIVEBRIDGE_NATS_URL", "")
    return 3 if cluster or several else 1


def stream_prefix(environ: Mapping[str, str]) -> str:
    """The ledger's stream prefix, read the same way by the bridge and every command.

    `LIVEBRIDGE_STREAM_PREFIX` is the setting (default `LB`: streams `LB_LEDGER`, ...);
    `NATS_STREAM_PREFIX`, the event store's own key, counts only where it is not set.
    """
    name = (
        "LIVEBRIDGE_STREAM_PREFIX"
        if environ.get("LIVEBRIDGE_STREAM_PREFIX")
        else "NATS_STREAM_PREFIX"
    )
    prefix = environ.get(name) or DEFAULT_STREAM_PREFIX
    if not re.fullmatch(r"[A-Za-z0-9_-]+", prefix):  # it begins stream and bucket names
        raise SettingsError(f"{name}={prefix!r}: use letters, digits, _ and - (e.g. LB)")
    return prefix


def command_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the commands read, with the ledger's settings under the library's names.

    `LIVEBRIDGE_NATS_URL` stands for `NATS_URL`, and `NATS_STREAM_PREFIX` is always
    `stream_prefix(environ)`, as the bridge reads it; with a NATS URL the persistence module
    defaults to the JetStream store.
    """
    env = dict(environ)
    env["NATS_STREAM_PREFIX"] = stream_prefix(environ)
    env.setdefault("NATS_REPLICAS", str(nats_replicas(environ)))
    if not env.get("NATS_URL") and env.get("LIVEBRIDGE_NATS_URL"):
        env["NATS_URL"] = env["LIVEBRIDGE_NATS_URL"]
    if env.get("NATS_URL"):
        env.setdefault("PERSISTENCE_MODULE", "services.eventstore")
    return env


def use_running_bridge(environ: MutableMapping[str, str]) -> None:
    """Point the CLI at the bridge `livebridge run` started, unless told otherwise.

    Fills `LIVEBRIDGE_NATS_URL` and `LIVEBRIDGE_DATABASE_URL` from `<home>/endpoints.json`
    where they are not set, so `livebridge replay R-1` just works beside `make run`. A file
    whose process is gone (a bridge killed before it could remove it) is ignored.
    """
    home = Path(environ.get("LIVEBRIDGE_HOME", ".livebridge"))
    try:
        found = json.loads((home / ENDPOINTS_FILE).read_text())
    except (OSError, ValueError):
        return
    if not isinstance(found, dict) or not _alive(found.get("pid")):
        return  # not the bridge's (a file edited or damaged): every command ended in a traceback
    environ.setdefault("LIVEBRIDGE_NATS_URL", str(found.get("nats_url", "")))
    environ.setdefault("LIVEBRIDGE_DATABASE_URL", str(found.get("database_url", "")))


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
