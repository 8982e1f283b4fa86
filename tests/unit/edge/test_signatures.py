"""The one HMAC-SHA256 body signature that SoftSwiss, Ezugi and the canonical feed share."""

from __future__ import annotations

import pytest

from contracts import feeds
from contracts import signatures
from contracts.dialects import ezugi
from contracts.dialects import softswiss

# RFC 4231, test case 2
KEY = "Jefe"
BODY = b"what do ya want for nothing?"
HEX = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
BASE64 = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="


def test_a_body_is_signed_as_rfc_4231_says_in_hex_and_in_base64() -> None:
    assert signatures.sign_hex(BODY, KEY) == HEX
    assert signatures.sign_base64(BODY, KEY) == BASE64


def test_every_dialect_signs_and_verifies_with_the_shared_signature() -> None:
    assert softswiss.sign(BODY, KEY) == feeds.sign(BODY, KEY) == HEX
    assert ezugi.sign(BODY, KEY) == BASE64
    assert softswiss.verify(BODY, KEY, HEX) and feeds.verify(BODY, KEY, HEX)
    assert ezugi.verify(BODY, KEY, BASE64)


def test_a_hex_signature_verifies_in_either_case_and_with_white_space_around_it() -> None:
    assert signatures.verify_hex(BODY, KEY, f" {HEX.upper()}\t")
    assert signatures.verify_base64(BODY, KEY, f" {BASE64} ")
    assert not signatures.verify_base64(BODY, KEY, BASE64.lower())


@pytest.mark.parametrize(
    "sent",
    [
        None,
        "",
        "   ",
        HEX[:-1],
        HEX + "0",
        "é" * 64,
        "\udcff\udcfe",  # header bytes that were not UTF-8, as aiohttp hands them over
        "\ud800" + HEX[1:],  # a lone surrogate no byte could have made
        BASE64,
    ],
)
def test_a_missing_wrong_or_garbled_signature_does_not_verify_and_never_raises(
    sent: str | None,
) -> None:
    assert not signatures.verify_hex(BODY, KEY, sent)
    assert not signatures.verify_base64(BODY, KEY, sent if sent != BASE64 else HEX)
