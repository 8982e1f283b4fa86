"""A push to `/feed/studio` as aiohttp hands it to the push handler, without a socket."""

from __future__ import annotations

import io
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

SEGMENT = 1448
"""The most one `read` hands over: a TCP segment's payload. aiohttp's `read(n)` returns what
has arrived, not `n` bytes; a body read whole at once hid a handler that read only that."""


class Body:
    """Just enough of aiohttp's StreamReader for the handler: `read(n)`."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    async def read(self, n: int = -1) -> bytes:
        return self.data.read(SEGMENT if n < 0 else min(n, SEGMENT))


async def send(
    handler: Any, body: bytes, headers: dict[str, str], remote: str = "127.0.0.1"
) -> tuple[int, Any]:
    """`body` pushed to provider `studio` from `remote`: the status and the decoded answer."""
    request = make_mocked_request(
        "POST",
        "/feed/studio",
        headers={"Content-Length": str(len(body)), **headers},
        match_info={"provider": "studio"},
        payload=Body(body),  # type: ignore[arg-type]
    ).clone(remote=remote)
    response = await handler(request)
    assert isinstance(response, web.Response) and isinstance(response.body, bytes)
    return response.status, msgspec.json.decode(response.body)
