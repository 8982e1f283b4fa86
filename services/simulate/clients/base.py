"""What every dialect client shares: a prepared call, and transports that send it.

A client builds a `PreparedCall` (path, body, headers, query: already signed) with pure
functions, so tests can feed the same bytes to the edge in process (no socket) or over
HTTP. `HttpTransport` sends over one keep-alive `aiohttp.ClientSession` and retries the
*same bytes* on connection errors, timeouts and 5xx answers, the way providers retry:
every wallet call is idempotent on its transaction id, so a retry never moves money twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar
from typing import Protocol

import aiohttp
import msgspec


@dataclass(frozen=True, slots=True)
class PreparedCall:
    path: str
    """Relative to the dialect mount point, e.g. `transaction/bet`."""
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


def decode_answer(
    answer: Answer, dialect: str, decoder: msgspec.json.Decoder[Any] | None = None
) -> dict[str, Any]:
    """A dialect's JSON answer as a dict, with the HTTP status as `http_status`.

    A body that is not JSON at all (a proxy's error page, a 404) is handed over as it
    came, as `raw`; JSON that is not an object is not the dialect: ValueError.
    """
    try:
        body = (decoder or _JSON).decode(answer.body)
    except msgspec.DecodeError:
        return {"http_status": answer.status, "raw": answer.body.decode(errors="replace")}
    if not isinstance(body, dict):
        raise ValueError(f"{dialect} answers are JSON objects, got {answer.body[:80]!r}")
    body["http_status"] = answer.status
    return body


_JSON: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


class Transport(Protocol):
    async def send(self, call: PreparedCall) -> Answer: ...


class DialectClient:
    """Sends a dialect's prepared calls and reads its answers (see `decode_answer`)."""

    dialect: ClassVar[str]
    decoder: ClassVar[msgspec.json.Decoder[Any] | None] = None

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def send(self, call: PreparedCall) -> dict[str, Any]:
        return decode_answer(await self.transport.send(call), self.dialect, self.decoder)


class SignedJsonClient(DialectClient):
    """A dialect that posts JSON with the signature of exactly the body in a header
    (Hub88, Ezugi, SoftSwiss); `prepare_raw` lets a test forge or drop the signature."""

    signature_header: ClassVar[str]
    encoder: ClassVar[msgspec.json.Encoder] = msgspec.json.Encoder()

    def sign(self, body: bytes) -> str:
        raise NotImplementedError

    def prepare(self, path: str, payload: Mapping[str, Any]) -> PreparedCall:
        return self.prepare_raw(path, self.encoder.encode(payload))

    def prepare_raw(self, path: str, body: bytes, *, signature: str | None = None) -> PreparedCall:
        headers = {
            self.signature_header: self.sign(body) if signature is None else signature,
            "Content-Type": "application/json",
        }
        return PreparedCall(path=path, body=body, headers=headers)


class TransportError(RuntimeError):
    """The call got no usable answer after every retry."""


class HttpTransport:
    """POSTs to `<base_url>/<path>` (base_url like `http://host:8080/wallet/hub88`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        retries: int = 3,
        backoff_s: float = 0.05,
        timeout_s: float = 5.0,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, call: PreparedCall) -> Answer:
        url = f"{self.base_url}/{call.path}"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                async with self.session.request(
                    call.method,
                    url,
                    data=call.body,
                    headers=dict(call.headers),
                    params=dict(call.query),
                    timeout=self.timeout,
                ) as response:
                    body = await response.read()
                    if response.status >= 500:
                        last = TransportError(f"{url}: HTTP {response.status}")
                        continue
                    return Answer(response.status, body)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = exc
        raise TransportError(f"{url}: no answer after {self.retries + 1} attempts ({last})")


def sends(
    build: Callable[..., PreparedCall],
) -> Callable[..., Coroutine[Any, Any, dict[str, Any]]]:
    """A client method that sends what its builder method `build` prepares, and answers
    the decoded reply: `bet = sends(bet_call)`."""

    async def send(client: DialectClient, **kwargs: Any) -> dict[str, Any]:
        return await client.send(build(client, **kwargs))

    return send
