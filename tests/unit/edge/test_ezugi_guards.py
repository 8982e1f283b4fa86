"""The edge's own refusals, in Ezugi: IP allowlist, rate limit, body size."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from services.simulate.clients.ezugi import EzugiClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

SECRET = "ezugi-TEST-ONLY-secret"
OPTIONS: dict[str, str | int | float | bool] = {"operator_id": 7}


async def test_a_caller_outside_the_allowlist_gets_a_general_error_and_nothing_moves() -> None:
    r = rig(provider("ezugi", SECRET.encode(), allow=("10.0.0.0/8",), options=OPTIONS))
    r.fund("u-1", "10.00")
    r.session("ezugi", "tok", "u-1")
    client = EzugiClient(GatewayTransport(r.gate("ezugi")), SECRET, 7)
    before = r.ledger.snapshot()
    answer = await client.debit(
        user="u-1", token="tok", tx="d-1", round_id=1, amount=Decimal(1), currency="EUR"
    )
    assert (answer["http_status"], answer["errorCode"]) == (200, 1)
    assert r.ledger.snapshot() == before


async def test_a_caller_over_its_rate_limit_gets_503_so_it_retries() -> None:
    r = rig(provider("ezugi", SECRET.encode(), rate_limit=1, options=OPTIONS))
    r.session("ezugi", "tok", "u-1")
    client = EzugiClient(GatewayTransport(r.gate("ezugi")), SECRET, 7)
    answers = [await client.auth(token="tok") for _ in range(3)]
    assert any(a["http_status"] == 503 and a["errorCode"] == 1 for a in answers)


async def test_an_oversized_body_is_a_general_error() -> None:
    r = rig(provider("ezugi", SECRET.encode(), max_body_bytes=512, options=OPTIONS))
    client = EzugiClient(GatewayTransport(r.gate("ezugi")), SECRET, 7)
    body = msgspec.json.encode({"operatorId": 7, "token": "t", "pad": "x" * 600})
    answer = await client.send(client.prepare_raw("auth", body))
    assert (answer["http_status"], answer["errorCode"]) == (200, 1)


def test_an_ezugi_provider_without_an_operator_id_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="operator_id"):
        rig(provider("ezugi", SECRET.encode()))
