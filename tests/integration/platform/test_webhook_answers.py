"""What a webhook receiver answers besides its status: the sender reads only a short body."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from services.platform.webhooks import Endpoint
from services.platform.webhooks import SignedPoster
from tests.integration.support.servers_away import unused_port

CHUNK = b"x" * (1 << 20)
ANSWER_MIB = 512


async def test_a_receiver_answering_200_with_an_endless_body_has_it_left_unread() -> None:
    """A 2xx answer is the delivery: the body after it (here 512 MiB, which the sender
    read whole into memory before) is not read, and the connection is closed."""
    written = 0

    async def flood(request: web.Request) -> web.StreamResponse:
        nonlocal written
        await request.read()
        answer = web.StreamResponse(status=200)
        await answer.prepare(request)
        try:
            for _ in range(ANSWER_MIB):
                await answer.write(CHUNK)
                written += 1
        except (ConnectionError, RuntimeError):
            pass  # the sender hung up
        return answer

    app = web.Application()
    app.router.add_post("/hook", flood)
    runner = web.AppRunner(app)
    await runner.setup()
    port = unused_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        endpoint = Endpoint(name="p", url=f"http://127.0.0.1:{port}/hook", secret="k", timeout=30)
        async with aiohttp.ClientSession() as session:
            outcome = await SignedPoster(session, endpoint).attempt(b"{}", "e-1")
    finally:
        await runner.cleanup()

    assert outcome.ok
    assert written < ANSWER_MIB // 4, f"{written} MiB of the answer were read"


async def test_a_redirect_is_shown_with_its_location_quoted_and_control_characters_escaped() -> (
    None
):
    """The failure is what `livebridge webhooks parked` prints on an operator's terminal:
    a receiver's escape sequences (clear the screen, recolour) were printed as they came."""

    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        location = b"/x\x1b[2J\x1b[31mPWNED" + b"y" * 500
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\n")
        writer.write(b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    port = unused_port()
    server = await asyncio.start_server(redirect, "127.0.0.1", port)
    try:
        endpoint = Endpoint(name="p", url=f"http://127.0.0.1:{port}/hook", secret="k")
        async with aiohttp.ClientSession() as session:
            outcome = await SignedPoster(session, endpoint).attempt(b"{}", "e-1")
    finally:
        server.close()
        await server.wait_closed()

    assert not outcome.ok
    assert outcome.error.startswith("HTTP 302 redirected to '/x\\x1b[2J\\x1b[31mPWNED")
    assert "\x1b" not in outcome.error and len(outcome.error) < 300
