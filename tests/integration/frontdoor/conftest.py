"""A whole bridge (`build_app`) served in-process with operator keys, real NATS and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.test_utils import TestServer

from services.bridge.config import Settings
from services.bridge.main import build_app
from services.infra.databases import own_database
from services.infra.natsserver import NatsServer
from tests.conftest import POSTGRES_ADMIN_URL
from tests.integration.support.bridge_settings import provider_toml
from tests.integration.support.bridge_settings import settings_for_test
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM

KEYS = {
    "read": "read-key-0123456789abcdefghij",
    "read_next": "read-key-rotated-0123456789abcdef",
    "cashier": "cashier-key-0123456789abcdefghij",
    "sessions": "sessions-key-0123456789abcdefghij",
    "admin": "admin-key-0123456789abcdefghijkl",
}
"""Operator secrets by name; `all_but_<scope>` keys are added per scope (see ENV_KEYS)."""
SCOPES = ("read", "cashier", "sessions", "limits", "protection")
WITHHELD = (*SCOPES, "admin")
"""Each gets an `all-but-<scope>` key: every scope of SCOPES but that one (never admin)."""

DIALECT_SECRETS = {
    "evolution": "evo-token-for-tests",
    "pragmatic": "pragmatic-secret-for-tests",
    "softswiss": "softswiss-secret-for-tests",
    "ezugi": "ezugi-secret-for-tests",
}
EZUGI_OPERATOR = 4711

PROVIDERS = (
    provider_toml("evo", "evolution", "TEST_EVO_TOKEN"),
    provider_toml("hub88", "hub88", secret_file="hub88-public.pem"),
    provider_toml("pragmatic", "pragmatic", "TEST_PRAGMATIC_SECRET"),
    provider_toml("softswiss", "softswiss", "TEST_SOFTSWISS_SECRET"),
    provider_toml("ezugi", "ezugi", "TEST_EZUGI_SECRET", operator_id=EZUGI_OPERATOR),
)
CONFIG = (
    "\n".join(PROVIDERS)
    + """
[[table]]
provider = "evo"
id = "T1"
game = "roulette"
name = "Roulette One"
languages = ["en"]
stream = { webrtc = "wss://video.test/t1", hls = "https://video.test/t1.m3u8" }
  [table.limits]
  roulette_straight = { min_bet = "0.10", max_bet = "100.00" }

[[table]]
provider = "evo"
id = "T2-VIP"
game = "baccarat"
side_bets = ["player_pair", "banker_pair"]
min_kyc = "VERIFIED"
blocked_countries = ["GB"]
languages = ["en", "de"]

[[table]]
provider = "evo"
id = "T3-DE"
game = "blackjack"
countries = ["DE"]
schedule = "00:00-00:00"

[platform]
player_token_secret_env = "TEST_PLAYER_TOKEN_SECRET"
player_token_ttl_s = 300
provider_idle_s = 600

[[operator]]
id = "casino"
  [[operator.key]]
  id = "read-2"
  secret_file = "read-2.key"
  scopes = ["read"]
"""
)
"""Operator `casino`'s keys from the environment follow it: ENV_KEYS."""


def all_but_key(scope: str) -> str:
    return f"all-but-{scope}-key-0123456789abcdefghij"


@dataclass(frozen=True)
class EnvKey:
    """A key of operator `casino` whose secret the bridge reads from the variable `env`."""

    key_id: str
    env: str
    secret: str
    scopes: tuple[str, ...]

    def toml(self) -> str:
        listed = ", ".join(f'"{scope}"' for scope in self.scopes)
        return (
            f'  [[operator.key]]\n  id = "{self.key_id}"\n'
            f'  secret_env = "{self.env}"\n  scopes = [{listed}]\n'
        )


ENV_KEYS = (
    EnvKey("read-1", "TEST_KEY_READ", KEYS["read"], ("read",)),
    EnvKey("cashier", "TEST_KEY_CASHIER", KEYS["cashier"], ("cashier", "read")),
    EnvKey("sessions", "TEST_KEY_SESSIONS", KEYS["sessions"], ("sessions",)),
    EnvKey("admin", "TEST_KEY_ADMIN", KEYS["admin"], ("admin",)),
    *(
        EnvKey(
            f"all-but-{scope}",
            f"TEST_KEY_ALL_BUT_{scope.upper()}",
            all_but_key(scope),
            tuple(s for s in SCOPES if s != scope),
        )
        for scope in WITHHELD
    ),
)


@dataclass
class Bridge:
    app: web.Application
    client: TestClient[web.Request, web.Application]

    @staticmethod
    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[name]}"}


@pytest.fixture
def own_database_url() -> Iterator[str]:
    """A database of the test's own: the views' tracking rows are per database, and each
    test's log starts again at position 1."""
    with own_database(POSTGRES_ADMIN_URL, "livebridge_fd") as url:
        yield url


@pytest.fixture
def bridge_settings(
    tmp_path: Path,
    nats_server: NatsServer,
    own_database_url: str,
    stream_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    (tmp_path / "read-2.key").write_text(KEYS["read_next"] + "\n")
    (tmp_path / "hub88-public.pem").write_bytes(HUB88_PUBLIC_PEM)
    monkeypatch.setenv("TEST_EVO_TOKEN", DIALECT_SECRETS["evolution"])
    monkeypatch.setenv("TEST_PRAGMATIC_SECRET", DIALECT_SECRETS["pragmatic"])
    monkeypatch.setenv("TEST_SOFTSWISS_SECRET", DIALECT_SECRETS["softswiss"])
    monkeypatch.setenv("TEST_EZUGI_SECRET", DIALECT_SECRETS["ezugi"])
    monkeypatch.setenv("TEST_PLAYER_TOKEN_SECRET", "player-token-secret-0123456789abcdefghij")
    for key in ENV_KEYS:
        monkeypatch.setenv(key.env, key.secret)
    return settings_for_test(
        tmp_path,
        nats_server,
        own_database_url,
        stream_prefix,
        config=CONFIG + "".join(key.toml() for key in ENV_KEYS),
    )


@pytest.fixture
async def bridge(bridge_settings: Settings) -> AsyncIterator[Bridge]:
    app = build_app(bridge_settings)
    async with TestClient(TestServer(app)) as client:
        yield Bridge(app, client)
