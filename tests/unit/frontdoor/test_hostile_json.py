"""The front door reads JSON nested too deeply as malformed, never as a 500, and a body
that arrives in pieces whole."""

from __future__ import annotations

import msgspec
import pytest
from aiohttp.test_utils import make_mocked_request

from services.frontdoor.http import ApiError
from services.frontdoor.http import read_json


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, n: int = -1) -> bytes:
        chunk, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
        return chunk


class _Trickle(_Body):
    """A body as the network hands it over: `StreamReader.read(n)` answers what has come
    so far (at least a byte), not `n` bytes."""

    async def read(self, n: int = -1) -> bytes:
        return await super().read(min(n, 7) if n >= 0 else 7)


class _Anything(msgspec.Struct, frozen=True, kw_only=True):
    name: str = ""


@pytest.mark.parametrize(
    "body",
    [b"[" * 5000 + b"]" * 5000, b'{"zz":' + b"[" * 5000 + b"]" * 5000 + b"}"],
    ids=["deep document", "deep unknown field"],
)
async def test_json_nested_too_deeply_is_malformed(body: bytes) -> None:
    request = make_mocked_request(
        "POST",
        "/x",
        headers={"Content-Length": str(len(body))},
        payload=_Body(body),  # type: ignore[arg-type]
    )
    with pytest.raises(ApiError) as refused:
        await read_json(request, _Anything)
    assert refused.value.code in ("MALFORMED_JSON", "INVALID_REQUEST")


async def test_a_body_that_arrives_in_pieces_is_read_whole() -> None:
    """Sent in several TCP segments or HTTP chunks, a valid body was cut at its first
    piece and answered MALFORMED_JSON (a request that can never succeed, to the caller)."""
    body = b'{"name": "' + b"x" * 100 + b'"}'
    request = make_mocked_request("POST", "/x", payload=_Trickle(body))  # type: ignore[arg-type]
    assert await read_json(request, _Anything) == _Anything(name="x" * 100)
    huge = b'{"name": "' + b"x" * 70_000 + b'"}'
    request = make_mocked_request("POST", "/x", payload=_Trickle(huge))  # type: ignore[arg-type]
    with pytest.raises(ApiError) as refused:
        await read_json(request, _Anything)
    assert refused.value.code == "BODY_TOO_LARGE"
