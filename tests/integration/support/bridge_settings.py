"""`Settings` for a bridge under test: the session's nats-server, a PostgreSQL database,
a free HTTP port and a `livebridge.toml` written into the test's own folder, whose
providers `provider_toml` writes and whose operators `operator_toml`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from services.bridge.config import Settings
from services.infra.natsserver import NatsServer


def settings_for_test(
    tmp_path: Path,
    nats_server: NatsServer,
    database_url: str,
    stream_prefix: str,
    *,
    config: str,
    environ: Mapping[str, str] | None = None,
    monitored: bool = True,
) -> Settings:
    """Write `config` to `tmp_path/livebridge.toml` and point a bridge at it.

    `environ` defaults to the process environment (where the tests' secrets are set).
    `monitored=False` gives the bridge no monitor URL and lets it run on a nats-server
    it cannot verify as fsyncing."""
    config_path = tmp_path / "livebridge.toml"
    config_path.write_text(config)
    return Settings(
        home=tmp_path / "home",
        http_host="127.0.0.1",
        http_port=0,
        nats_url=nats_server.url,
        nats_monitor_url=nats_server.monitor_url if monitored else None,
        allow_unsynced_nats=not monitored,
        database_url=database_url,
        config_path=config_path,
        stream_prefix=stream_prefix,
        environ=os.environ if environ is None else environ,
    )


def provider_toml(
    provider_id: str,
    dialect: str,
    secret_env: str = "",
    *,
    secret_file: str = "",
    **options: str | int | bool,
) -> str:
    """One `[[provider]]` of a livebridge.toml taking EUR, its secret read from the
    environment variable `secret_env` (or the file `secret_file`), with `options`."""
    lines = [
        "[[provider]]",
        f'id = "{provider_id}"',
        f'dialect = "{dialect}"',
        'currencies = ["EUR"]',
        f'secret_file = "{secret_file}"' if secret_file else f'secret_env = "{secret_env}"',
    ]
    if options:
        lines.append("[provider.options]")
        lines += [f"{name} = {json.dumps(value)}" for name, value in options.items()]
    return "\n".join(lines) + "\n"


def operator_toml(secret_env: str, *, operator: str = "casino", key: str = "k1") -> str:
    """One `[[operator]]` of a livebridge.toml with one key, of scope `read`, its secret
    read from the environment variable `secret_env`."""
    return (
        f'[[operator]]\nid = "{operator}"\n[[operator.key]]\nid = "{key}"\n'
        f'secret_env = "{secret_env}"\nscopes = ["read"]\n'
    )
