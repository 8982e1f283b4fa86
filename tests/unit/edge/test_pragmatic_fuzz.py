"""Hostile Pragmatic calls: every one gets a non-zero `error`, never a 500, and moves nothing."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contracts.dialects import pragmatic as wire
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.pragmatic import PragmaticClient
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import refused_body

SECRET = "pp-secret-key-TEST-ONLY"
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATHS = [
    "authenticate.html",
    "balance.html",
    "bet.html",
    "result.html",
    "refund.html",
    "endRound.html",
]
BET = {
    "userId": "u-1",
    "gameId": "401",
    "roundId": "r-1",
    "amount": "1.00",
    "reference": "b-1",
    "timestamp": "1",
}
FIELD_TEXT = st.text(max_size=12)


def setup() -> tuple[Rig, PragmaticClient, GatewayTransport]:
    r, transport = player_rig("pragmatic", SECRET.encode(), "tok-1", max_body_bytes=4096)
    client = PragmaticClient(transport, SECRET)
    asyncio.run(client.send(client.prepare("bet.html", {**BET, "reference": "b-0"})))
    return r, client, transport


def refused(r: Rig, transport: GatewayTransport, call: PreparedCall) -> int:
    body = refused_body(r, transport, call)
    error = msgspec.json.decode(body, type=wire.Response).error
    assert error != 0, body
    return error


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    fields=st.dictionaries(FIELD_TEXT, FIELD_TEXT, max_size=8),
)
def test_random_signed_forms_get_a_pragmatic_error(path: str, fields: dict[str, str]) -> None:
    r, client, transport = setup()
    fields.pop("providerId", None)
    refused(r, transport, client.prepare(path, fields))


@FUZZ
@given(path=st.sampled_from(PATHS), body=st.binary(max_size=300))
def test_random_bytes_get_a_pragmatic_error(path: str, body: bytes) -> None:
    r, client, transport = setup()
    refused(r, transport, client.prepare_raw(path, body))


@FUZZ
@given(path=st.sampled_from(PATHS), secret=st.text(max_size=30), hash_=st.text(max_size=40))
def test_wrong_secrets_and_forged_hashes_are_invalid_hash(
    path: str, secret: str, hash_: str
) -> None:
    r, _, transport = setup()
    wrong = PragmaticClient(transport, secret if secret != SECRET else secret + "x")
    assert refused(r, transport, wrong.prepare(path, BET)) == wire.Error.INVALID_HASH
    assert refused(r, transport, wrong.prepare(path, BET, hash_=hash_)) == wire.Error.INVALID_HASH


@FUZZ
@given(
    path=st.sampled_from(["bet.html", "result.html"]),
    amount=st.one_of(
        st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False),
        st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False).filter(
            lambda d: d != d.quantize(Decimal("0.01"))
        ),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "sNaN", "1e400", "abc", "", "1,5"]),
        st.text(max_size=8).filter(lambda t: not t.strip().replace(".", "", 1).isdigit()),
    ),
)
def test_negative_over_precise_nan_or_non_numeric_amounts_are_bad_parameters(
    path: str, amount: Any
) -> None:
    r, client, transport = setup()
    call = client.prepare(path, {**BET, "amount": str(amount)})
    assert refused(r, transport, call) == wire.Error.BAD_PARAMETERS


@FUZZ
@given(size=st.integers(min_value=4097, max_value=20000))
def test_oversized_bodies_are_refused(size: int) -> None:
    r, client, transport = setup()
    call = client.prepare("bet.html", {**BET, "roundDetails": "x" * size})
    assert refused(r, transport, call) == wire.Error.BAD_PARAMETERS


def test_an_empty_user_round_or_reference_is_bad_parameters() -> None:
    r, client, transport = setup()
    result = {**BET, "reference": "res-1"}
    for path, template, keys in (
        ("bet.html", BET, ("userId", "roundId", "reference")),
        ("result.html", result, ("userId", "roundId", "reference")),
        ("refund.html", {"userId": "u-1", "reference": "b-0"}, ("userId", "reference")),
    ):
        for key in keys:
            error = refused(r, transport, client.prepare(path, {**template, key: ""}))
            assert error == wire.Error.BAD_PARAMETERS, (path, key)
