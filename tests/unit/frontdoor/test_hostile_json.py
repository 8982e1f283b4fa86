"""The front door reads JSON nested too deeply as malformed, never as a 500."""

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
