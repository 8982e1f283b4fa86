"""Decoding a body that may be hostile: every way it can fail is a `msgspec.DecodeError`.

msgspec raises `RecursionError`, not `DecodeError`, for JSON nested deeper than the
interpreter's recursion limit (about 1,000 levels), even inside a field the target type
ignores. A caller that catches `DecodeError` lets it escape, and the call is answered as an
internal (retryable) failure: the provider resends a request that can never succeed,
forever. Decode untrusted JSON through `decode` or `decode_with`: such a body is malformed
like any other.
"""

from __future__ import annotations

from typing import Any
from typing import TypeVar

import msgspec

T = TypeVar("T")

TOO_DEEP = "JSON nested too deeply"


def decode(body: bytes | str, type_: type[T], *, strict: bool = True) -> T:
    """`msgspec.json.decode(body, type=type_)`; any failure is a `msgspec.DecodeError`."""
    try:
        return msgspec.json.decode(body, type=type_, strict=strict)
    except RecursionError:
        raise msgspec.DecodeError(TOO_DEEP) from None


def decode_with(decoder: msgspec.json.Decoder[T], body: bytes | str) -> T:
    """`decoder.decode(body)`; any failure is a `msgspec.DecodeError`."""
    try:
        return decoder.decode(body)
    except RecursionError:
        raise msgspec.DecodeError(TOO_DEEP) from None


def decode_any(body: bytes | str) -> Any:
    """Untyped `msgspec.json.decode(body)`; any failure is a `msgspec.DecodeError`."""
    try:
        return msgspec.json.decode(body)
    except RecursionError:
        raise msgspec.DecodeError(TOO_DEEP) from None
