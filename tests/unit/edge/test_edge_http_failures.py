"""Failures around the wallet handlers at the HTTP layer: a body that cannot be read, or a
fault outside the adapter, still gets the dialect's error, never a 500 (no socket: mocked
aiohttp requests)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_protocol import PayloadAccessError
from aiohttp.web_protocol import RequestPayloadError

from services.edge.app import _http_handler
from services.edge.gateway import ProviderGate
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import provider
from tests.unit.edge.support.wallet_gateway import rig

EZUGI_SECRET = "ezugi-TEST-ONLY-secret"


class Broken:
    """A request body whose reading fails the way aiohttp's does."""

    def __init__(self, exc: Exception, before: bytes = b"") -> None:
        self.exc = exc
        self.before = before

    async def read(self, n: int = -1) -> bytes:
        if self.before:
            chunk, self.before = self.before, b""
            return chunk
        raise self.exc


def setup() -> Rig:
    r = rig(
        provider("ezugi", EZUGI_SECRET.encode(), options={"operator_id": 7}),
        provider("hub88", HUB88_PUBLIC_PEM),
    )
    r.fund("u-1", "10.00")
    return r


async def call(gate: ProviderGate, path: str, body: Any) -> tuple[int, dict[str, object]]:
    handler = _http_handler(gate, gate.endpoints["POST", path])
    request = make_mocked_request(
        "POST", f"/wallet/{gate.provider.dialect}/{path}", payload=body
    ).clone(remote="127.0.0.1")
    response = await handler(request)
    assert isinstance(response, web.Response) and isinstance(response.body, bytes)
    return response.status, msgspec.json.decode(response.body)


@pytest.mark.parametrize(
    "failure",
    [
        RequestPayloadError("Not enough data to satisfy transfer length header."),
        ConnectionResetError("Connection lost"),
        PayloadAccessError(),
        ValueError("broken deflate stream"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_body_that_cannot_be_read_gets_the_dialect_malformed_error(
    failure: Exception,
) -> None:
    r = setup()
    before = r.ledger.snapshot()
    status, ezugi = await call(r.gate("ezugi"), "debit", Broken(failure, b'{"uid":'))
    assert (status, ezugi["errorCode"]) == (200, 1)
    status, hub88 = await call(r.gate("hub88"), "transaction/bet", Broken(failure))
    assert (status, hub88["status"]) == (200, "RS_ERROR_WRONG_SYNTAX")
    assert r.ledger.snapshot() == before


async def test_a_fault_outside_the_adapter_is_the_dialect_internal_error_not_a_500(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = setup()
    gate = r.gate("ezugi")

    def explode(*args: object) -> None:
        raise RuntimeError("allowlist table corrupted")

    monkeypatch.setattr(gate, "screen", explode)
    status, answer = await call(gate, "debit", Broken(AssertionError("not read")))
    assert (status, answer["errorCode"]) == (503, 1)
    assert r.ledger.balance("u-1", "EUR").available == Decimal("10.00")
