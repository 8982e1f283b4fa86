"""A signature header whose bytes are not UTF-8 (aiohttp hands them over as surrogates) is a
bad signature in the caller's dialect, over real HTTP: never a 500, never the retryable
answer a provider would resend forever."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from yarl import URL

from contracts import feeds
from contracts.dialects import ezugi
from contracts.dialects import softswiss
from tests.integration.edge.support.served_edge import provider
from tests.integration.edge.support.simulated_bridge import served_bridge

SECRET = "signature-TEST-ONLY-secret"
GARBLED = (b"\xff\xfe", b"abc\xc3", b"\xe9" * 64)
BODY = b'{"operatorId":1,"token":"t","uid":"ann","debitAmount":1,"currency":"EUR"}'


async def raw_post(url: str, header: str, value: bytes) -> tuple[int, bytes]:
    """POST `BODY` to `url` with `header` holding exactly these bytes (aiohttp's client sends
    only text): the status and the body."""
    target = URL(url)
    assert target.host is not None and target.port is not None
    reader, writer = await asyncio.open_connection(target.host, target.port)
    writer.write(
        f"POST {target.path} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n".encode()
        + f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n".encode()
        + f"{header}: ".encode()
        + value
        + b"\r\n\r\n"
        + BODY
    )
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("dialect", "path", "header", "refused"),
    [
        ("ezugi", "debit", ezugi.SIGNATURE_HEADER, (200, "errorCode", 1)),
        ("softswiss", "play", softswiss.SIGNATURE_HEADER, (403, "code", 403)),
    ],
)
async def test_a_garbled_signature_header_is_the_dialects_bad_signature_and_so_is_a_feeds(
    nats_url: str,
    stream_prefix: str,
    dialect: str,
    path: str,
    header: str,
    refused: tuple[int, str, int],
) -> None:
    status, field, code = refused
    config = provider(dialect, SECRET.encode(), operator_id=1)
    async with served_bridge(nats_url, stream_prefix, config) as bridge:
        for value in GARBLED:
            answered, body = await raw_post(f"{bridge.base(dialect)}/{path}", header, value)
            assert answered == status, (value, body)
            assert msgspec.json.decode(body)[field] == code, (value, body)
            answered, body = await raw_post(
                f"{bridge.url}/feed/{dialect}", feeds.SIGNATURE_HEADER, value
            )
            assert answered == 401, (value, body)
            assert msgspec.json.decode(body)["error"] == "LBRG-401 INVALID_SIGNATURE"
