"""Hub88 signatures: known-answer vectors for the TEST-ONLY key, and what must not verify."""

from __future__ import annotations

from contracts.dialects import hub88
from services.simulate.clients.hub88 import load_private_key
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM

PRIVATE = load_private_key(HUB88_PRIVATE_PEM)
PUBLIC = hub88.load_public_key(HUB88_PUBLIC_PEM)

# PKCS#1 v1.5 signatures are deterministic: these were produced once with
# tests/keys/hub88_TEST_ONLY_private.pem and must never change.
VECTORS = [
    (
        b"test",
        "IbhcIYB4ICOjtjwtOm3w99UWH1bZN4M1MtNyDz6nG7CdDGzHXoJugIo0A7OP1u7daQzgozL1MCP50T9CJv24CWPa"
        "JPqALhz05Gp8smc2N4xdZvQfscZd/uHELvUgzWCTCpf0lSSaNbuA1BJ/XjLN1guxHRLn7TP5uXXH/f1QVbLTSuTb"
        "Sj5W7HFAlNuzMGJPL4o3HmVUWvUL1C/mGuzAszpdSEdn8ZbYCPvQ5Z+kdfPRJgp9bIBkuFw+I4LC/oZ6eeWi114I"
        "iKhWjeE8ascHL0z84ekSpYMKp7FbPWEOfPcgVbf4bqGwpmr3Kt5ITDoU4VI1AoXLROmz24+M1slChg==",
    ),
    (
        b'{"user":"john12345","request_uuid":"583c985f-fee6-4c0e-bbf5-308aad6265af",'
        b'"token":"55b7518e-b89e-11e7-854a-58404eea6d16"}',
        "MHrcXpOvD4EJFeUuvaQi5bosy//lOhTLlFiuedJ/a4vhJMyuFS4AmaAU3xVyrm5L1lowCsu9LRiXYf0pkhA17ULE"
        "yQGIGGOaBZwv2E4zpVGRo4WMwaF3ssOfF0agNPpwMMV6sidPpxZV/PgTF5G6LFfQ5/yYbMk666JzJ1W/Ik4V9U/+"
        "hqz0GDC3RkYEnpVo0+DAXW6hNdMftEP+R99fy/elu4xq/s3VovBLoJbM+U8rZ49fX2JvytIzqDRYYPx5t8wsPTrc"
        "Jy/orfe8ECiihaEYn7p02uEpPAGfUHmZx5lNoJP0J30w1FHYdD4BCM5v0IHMIW4fpJtogZvFq/LK9A==",
    ),
]


def test_signing_reproduces_the_known_answers() -> None:
    for body, expected in VECTORS:
        assert hub88.sign(body, PRIVATE) == expected


def test_known_answers_verify_with_the_public_key() -> None:
    for body, signature in VECTORS:
        assert hub88.verify(body, PUBLIC, signature)


def test_a_changed_body_missing_or_garbled_signature_does_not_verify() -> None:
    body, signature = VECTORS[1]
    assert not hub88.verify(body + b" ", PUBLIC, signature)
    assert not hub88.verify(body.replace(b"john", b"jane"), PUBLIC, signature)
    assert not hub88.verify(body, PUBLIC, None)
    assert not hub88.verify(body, PUBLIC, "")
    assert not hub88.verify(body, PUBLIC, "not base64 at all!")
    assert not hub88.verify(body, PUBLIC, signature[:-8] + "AAAAAAA=")
    assert not hub88.verify(body, PUBLIC, VECTORS[0][1])
