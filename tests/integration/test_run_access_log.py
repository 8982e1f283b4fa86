"""`livebridge run` logs every HTTP call, and no credential a caller put in the query."""

from __future__ import annotations

from pathlib import Path

from tests.integration.support.bridge_settings import provider_toml
from tests.integration.support.livebridge_run import Bridge
from tests.integration.support.livebridge_run import request

EVOLUTION_SECRET = "evo-shared-secret-never-logged-0123"
PLAYER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.player-token-never-logged.c2ln"


def test_the_access_log_hides_evolutions_auth_token_and_a_sockets_player_token(
    tmp_path: Path,
) -> None:
    config = tmp_path / "livebridge.toml"
    config.write_text(provider_toml("evolution", "evolution", "RUN_TEST_EVOLUTION_TOKEN"))
    env = {"LIVEBRIDGE_CONFIG": str(config), "RUN_TEST_EVOLUTION_TOKEN": EVOLUTION_SECRET}
    bridge = Bridge(tmp_path / "home", 1, env=env)
    try:
        bridge.ready()
        # Evolution's wallet calls carry its shared secret in the query, on every call
        wallet = bridge.url(f"/wallet/evolution/balance?authToken={EVOLUTION_SECRET}&x=1")
        assert request(wallet, b"{}", timeout=5).status == 200
        # a browser's bet socket carries its player token in the query
        socket = bridge.url(f"/platform/v1/player/socket?token={PLAYER_TOKEN}")
        assert request(socket, timeout=5).status == 401
        assert bridge.interrupt(within=20)[0] == 0
    finally:
        bridge.close()
    logged = bridge.log.read_text()
    assert '"POST /wallet/evolution/balance?authToken=***&x=1 HTTP/1.1" 200' in logged
    assert '"GET /platform/v1/player/socket?token=*** HTTP/1.1" 401' in logged
    assert EVOLUTION_SECRET not in logged and PLAYER_TOKEN not in logged
