"""JSON in and out of the platform API, and the one error every refusal raises.

Errors::

    Exception
    └── ApiError        .code (a key of contracts.api.ERRORS), .message; rendered as
                        `{"error": "LBRG-<status> <CODE>", "message": ...}`

Bodies are decoded straight into the route's msgspec type: malformed JSON is
`LBRG-400 MALFORMED_JSON`, a body that does not match the type is
`LBRG-400 INVALID_REQUEST` naming the field, before anything changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import msgspec
from aiohttp import web

from contracts import bodies
from contracts.api import ERRORS
from contracts.api import ErrorBody
from contracts.api import error_text
from services.edge.bounded import read_bounded

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BODY = 64 * 1024
_encoder = msgspec.json.Encoder(decimal_format="string")


class ApiError(Exception):
    """A refusal with a stable code; nothing was changed by the call."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        assert code in ERRORS, code
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return ERRORS[self.code][0]

    def response(self) -> web.Response:
        body = ErrorBody(error=error_text(self.code), message=self.message)
        response = json_response(body, self.status)
        response.headers.update(self.headers)
        return response


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(body), status=status, content_type="application/json")


async def read_json(request: web.Request, kind: type[T], *, exact: bool = False) -> T:
    """The body as `kind`, or `ApiError` (too large, not JSON, not matching the schema).

    `exact`: a field `kind` does not have is refused too (`INVALID_REQUEST` naming it),
    where dropping it would change what the call means: a protection limit without
    `amount` removes the limit, so a mistyped `ammount` would lift it without a word."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError("BODY_TOO_LARGE", f"the body must be at most {MAX_BODY} bytes")
    body = await read_bounded(request.content, MAX_BODY)
    if body is None:
        raise ApiError("BODY_TOO_LARGE", f"the body must be at most {MAX_BODY} bytes")
    try:
        value = bodies.decode(body, kind, strict=True)
        unknown = (
            _unknown_field(bodies.decode_any(body), msgspec.to_builtins(value)) if exact else ""
        )
        if unknown:
            raise ApiError(
                "INVALID_REQUEST", f"the body has a field its schema does not: `{unknown}`"
            )
        return value
    except msgspec.ValidationError as exc:
        problem = f"the body does not match its schema: {exc}"
    except msgspec.DecodeError:
        problem = ""
    try:  # a type error can be found before the text is read to its end
        bodies.decode_any(body)
    except msgspec.DecodeError:
        raise ApiError("MALFORMED_JSON", "the body is not a JSON document") from None
    raise ApiError("INVALID_REQUEST", problem or "the body does not match its schema")


def _unknown_field(sent: Any, known: Any, path: str = "$") -> str:
    """The path of the first field in `sent` (the body as JSON) that `known` (the decoded
    body, encoded again: every field its type has) lacks; "" when there is none."""
    if isinstance(sent, dict) and isinstance(known, dict):
        for key, value in sent.items():
            if key not in known:
                return f"{path}.{key}"
            found = _unknown_field(value, known[key], f"{path}.{key}")
            if found:
                return found
    elif isinstance(sent, list) and isinstance(known, list | tuple):
        for number, (value, kept) in enumerate(zip(sent, known, strict=False)):
            found = _unknown_field(value, kept, f"{path}[{number}]")
            if found:
                return found
    return ""


LOG_END_TIMEOUT_S = 2.0
"""The longest a request waits for the log to say its end (then its position is taken)."""


async def past_log_end(log_end: Callable[[], int], position: int) -> int | None:
    """The ledger log's last position when `position` is past it, else None. A position
    past the end was never answered, so a read waiting for it would wait forever; a log
    that does not say its end within `LOG_END_TIMEOUT_S` leaves the position as given."""
    try:
        async with asyncio.timeout(LOG_END_TIMEOUT_S):
            end = await asyncio.to_thread(log_end)
    except Exception as error:  # the log away: the read after this meets it, not this check
        log.warning(
            "the ledger's log did not say its end (%s); not checking position %d", error, position
        )
        return None
    return end if position > end else None
