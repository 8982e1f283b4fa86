"""Signatures of a raw body under a shared secret: HMAC-SHA256, sent as lowercase hex
(SoftSwiss's `X-REQUEST-SIGN`, the canonical feed's `X-Feed-Signature`) or as base64
(Ezugi's `hash`).

The `verify_*` functions compare in constant time with the header as sent (white space
around it stripped; hex in either case) and never raise: a missing or empty header, one
whose bytes were not UTF-8 (aiohttp hands those over as surrogates) or any other text
that is not the signature simply does not verify. `matches` is that comparison alone, for
a digest a dialect computes its own way (Pragmatic's md5 `hash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _mac(body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def sign_hex(body: bytes, secret: str) -> str:
    """Lowercase hex HMAC-SHA256 of a raw body under `secret`."""
    return _mac(body, secret).hex()


def sign_base64(body: bytes, secret: str) -> str:
    """Base64 HMAC-SHA256 of a raw body under `secret`."""
    return base64.b64encode(_mac(body, secret)).decode()


def verify_hex(body: bytes, secret: str, sent: str | None) -> bool:
    """Whether `sent` is the body's `sign_hex`, in either case."""
    return sent is not None and matches(sign_hex(body, secret), sent.strip().lower())


def verify_base64(body: bytes, secret: str, sent: str | None) -> bool:
    """Whether `sent` is the body's `sign_base64`."""
    return sent is not None and matches(sign_base64(body, secret), sent.strip())


def matches(expected: str, sent: str) -> bool:
    """Constant-time equality of a signature with the one sent; an empty one never matches.
    Surrogates (header bytes that were not UTF-8) are compared as they stand, never raise."""
    return bool(sent) and hmac.compare_digest(
        expected.encode(), sent.encode("utf-8", "surrogatepass")
    )
