"""Hostile Hub88 calls: every one gets an RS_ERROR status, never a 500, and moves nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from contracts.dialects import hub88 as wire
from services.simulate.clients.base import PreparedCall
from services.simulate.clients.hub88 import Hub88Client
from services.simulate.clients.hub88 import load_private_key
from tests.unit.edge.support.hostile_requests import JSON
from tests.unit.edge.support.hostile_requests import bad_integer_amounts
from tests.unit.edge.support.hostile_requests import mutate
from tests.unit.edge.support.wallet_gateway import HUB88_PRIVATE_PEM
from tests.unit.edge.support.wallet_gateway import HUB88_PUBLIC_PEM
from tests.unit.edge.support.wallet_gateway import GatewayTransport
from tests.unit.edge.support.wallet_gateway import Rig
from tests.unit.edge.support.wallet_gateway import player_rig
from tests.unit.edge.support.wallet_gateway import refused_status

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATHS = ["user/info", "user/balance", "transaction/bet", "transaction/win", "transaction/rollback"]
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BET = {
    "user": "u-1",
    "transaction_uuid": "b-1",
    "request_uuid": "q-1",
    "token": "tok-1",
    "round": "r-1",
    "game_code": "g",
    "currency": "EUR",
    "amount": 250000,
}
WIN = {**BET, "transaction_uuid": "w-1", "reference_transaction_uuid": "b-0"}


def setup() -> tuple[Rig, Hub88Client, GatewayTransport]:
    r, transport = player_rig("hub88", HUB88_PUBLIC_PEM, "tok-1", max_body_bytes=4096)
    client = Hub88Client(transport, load_private_key(HUB88_PRIVATE_PEM))
    # a bet to point wins and rollbacks at
    asyncio.run(client.send(client.prepare("transaction/bet", {**BET, "transaction_uuid": "b-0"})))
    return r, client, transport


def refused(r: Rig, transport: GatewayTransport, call: PreparedCall) -> str:
    return refused_status(r, transport, call, wire.Response, wire.Status.OK)


@FUZZ
@given(path=st.sampled_from(PATHS), body=st.one_of(JSON, st.binary(max_size=200)))
def test_random_signed_bodies_get_a_hub88_error(path: str, body: Any) -> None:
    r, client, transport = setup()
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    refused(r, transport, client.prepare_raw(path, raw))


@FUZZ
@given(path=st.sampled_from(PATHS), signature=st.one_of(st.text(max_size=400), st.none()))
def test_forged_missing_or_foreign_key_signatures_are_invalid(
    path: str, signature: str | None
) -> None:
    r, client, transport = setup()
    body = msgspec.json.encode(BET)
    calls = [
        client.prepare_raw(path, body, signature=signature or ""),
        client.prepare_raw(path, body, signature=wire.sign(body, OTHER_KEY)),
        client.prepare_raw(path, body + b" ", signature=wire.sign(body, client.key)),
    ]
    for call in calls:
        assert refused(r, transport, call) == wire.Status.INVALID_SIGNATURE


@FUZZ
@given(
    template=st.sampled_from([("transaction/bet", BET), ("transaction/win", WIN)]),
    amount=bad_integer_amounts(),
)
def test_non_integer_negative_huge_or_over_precise_amounts_are_refused(
    template: tuple[str, dict[str, Any]], amount: Any
) -> None:
    r, client, transport = setup()
    path, payload = template
    refused(r, transport, client.prepare(path, mutate(payload, "amount", amount)))


@FUZZ
@given(units=st.integers(min_value=1, max_value=10**9).filter(lambda n: n % 1000 != 0))
def test_amounts_finer_than_a_cent_are_wrong_types(units: int) -> None:
    r, client, transport = setup()
    call = client.prepare("transaction/bet", mutate(BET, "amount", units))
    assert refused(r, transport, call) == wire.Status.WRONG_TYPES


@FUZZ
@given(size=st.integers(min_value=4097, max_value=20000))
def test_oversized_bodies_are_refused_before_anything_else(size: int) -> None:
    r, client, transport = setup()
    call = client.prepare("transaction/bet", {**BET, "bet": "x" * size})
    assert refused(r, transport, call) == wire.Status.WRONG_SYNTAX


def test_an_empty_user_transaction_reference_or_round_id_is_refused() -> None:
    r, client, transport = setup()
    rollback = {
        "user": "u-1",
        "transaction_uuid": "rb-1",
        "request_uuid": "q-2",
        "reference_transaction_uuid": "b-0",
    }
    ids = ("user", "transaction_uuid", "reference_transaction_uuid", "round")
    for path, template in (
        ("transaction/bet", BET),
        ("transaction/win", WIN),
        ("transaction/rollback", rollback),
    ):
        for key in ids:
            if key not in template:
                continue
            status = refused(r, transport, client.prepare(path, mutate(template, key, "")))
            assert status == wire.Status.WRONG_TYPES, (path, key)
