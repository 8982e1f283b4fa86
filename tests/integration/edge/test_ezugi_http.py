"""Ezugi over HTTP against the real ledger: hostile calls get Ezugi errors and move nothing
(the table every dialect plays: test_dialect_tables.py)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from services.simulate.clients.base import HttpTransport
from services.simulate.clients.ezugi import EzugiClient
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.simulated_bridge import served_bridge

SECRET = "ezugi-TEST-ONLY-secret"
OPERATOR = 10178001


async def test_hostile_calls_over_http_get_ezugi_errors_and_move_nothing(
    nats_url: str, stream_prefix: str
) -> None:
    config = provider("ezugi", SECRET.encode(), operator_id=OPERATOR)
    async with served_bridge(nats_url, stream_prefix, config) as bridge:
        await bridge.bank.deposit("victim", "EUR", Decimal("50"), "dep-victim")
        token = await bridge.bank.launch("ezugi", "victim", "EUR")
        client = EzugiClient(HttpTransport(bridge.http, bridge.base("ezugi")), SECRET, OPERATOR)
        good = client.debit_call(
            user="victim", token=token, tx="d-1", round_id=1, amount=Decimal(5), currency="EUR"
        )
        template = msgspec.json.decode(good.body)
        hostile = [
            client.prepare_raw("debit", good.body, signature="AAAA"),
            client.prepare_raw("debit", good.body, signature=""),
            client.prepare_raw("debit", b'{"uid":"' + b"x" * 70000 + b'"}'),
            client.prepare_raw("debit", b'{"uid": "victim", '),
        ]
        for amount in (-5, 2.505, "NaN", True, 1e400):
            body = msgspec.json.encode({**template, "debitAmount": amount})
            hostile.append(client.prepare_raw("debit", body))
        for call in hostile:
            answer = await client.send(call)
            assert answer["http_status"] == 200 and answer["errorCode"] == 1, answer
        assert await bridge.bank.balance("victim", "EUR") == Decimal("50")
