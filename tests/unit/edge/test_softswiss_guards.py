"""The edge's own refusals, in SoftSwiss: IP allowlist, rate limit, body size."""

from __future__ import annotations

import msgspec

from services.simulate.clients.softswiss import SoftSwissClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

SECRET = "softswiss-TEST-ONLY-token"


async def test_a_caller_outside_the_allowlist_is_forbidden_and_nothing_moves() -> None:
    r = rig(provider("softswiss", SECRET.encode(), allow=("10.0.0.0/8",)))
    r.fund("u-1", "10.00")
    client = SoftSwissClient(GatewayTransport(r.gate("softswiss")), SECRET)
    before = r.ledger.snapshot()
    answer = await client.balance(user="u-1", currency="EUR")
    assert answer["http_status"] == 403 and answer["code"] == 403
    assert r.ledger.snapshot() == before


async def test_a_caller_over_its_rate_limit_is_told_to_retry() -> None:
    r = rig(provider("softswiss", SECRET.encode(), rate_limit=1))
    r.fund("u-1", "10.00")
    client = SoftSwissClient(GatewayTransport(r.gate("softswiss")), SECRET)
    statuses = [(await client.balance(user="u-1", currency="EUR"))["http_status"] for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses
    limited = await client.balance(user="u-1", currency="EUR")
    assert (limited["http_status"], limited["code"]) == (429, 503)


async def test_an_oversized_body_is_refused_with_413() -> None:
    r = rig(provider("softswiss", SECRET.encode(), max_body_bytes=512))
    client = SoftSwissClient(GatewayTransport(r.gate("softswiss")), SECRET)
    body = msgspec.json.encode({"user_id": "u-1", "currency": "EUR", "pad": "x" * 600})
    answer = await client.send(client.prepare_raw("play", body))
    assert (answer["http_status"], answer["code"]) == (413, 400)
