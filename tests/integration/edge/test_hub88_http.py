"""Hub88 over HTTP against the real ledger, sessions in KV: forged, unsigned and oversized
calls (the table and the rollback before its bet, every dialect's: test_dialect_tables.py)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from tests.integration.edge.support.served_edge import one_player
from tests.integration.edge.support.served_edge import provider
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM


async def test_forged_unsigned_and_oversized_requests_get_hub88_errors_over_http(
    nats_url: str, stream_prefix: str
) -> None:
    config = provider("hub88", HUB88_PUBLIC_PEM)
    async with one_player(nats_url, stream_prefix, config, "victim") as (edge, token):
        client = Hub88Client(
            HttpTransport(edge.http, edge.base("hub88")), load_private_key(HUB88_PRIVATE_PEM)
        )
        call = client.bet_call(
            user="victim", token=token, round_id="r", tx="t", amount=Decimal(5), currency="EUR"
        )
        forged = client.prepare_raw(call.path, call.body, signature="AAAA")
        unsigned = client.prepare_raw(call.path, call.body, signature="")
        huge = client.prepare_raw(call.path, b'{"user":"' + b"x" * 70000 + b'"}')
        for bad, http_status, status in (
            (forged, 200, "RS_ERROR_INVALID_SIGNATURE"),
            (unsigned, 200, "RS_ERROR_INVALID_SIGNATURE"),
            (huge, 413, "RS_ERROR_WRONG_SYNTAX"),
        ):
            answer = await client.send(bad)
            assert (answer["http_status"], answer["status"]) == (http_status, status)
        async with edge.http.post(
            f"{edge.base('hub88')}/transaction/bet", data=b"{", headers={"Connection": "close"}
        ) as response:
            assert response.status == 200
            assert msgspec.json.decode(await response.read())["status"] == (
                "RS_ERROR_INVALID_SIGNATURE"
            )
        assert await edge.balance("victim") == 1000
